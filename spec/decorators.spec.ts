// Decorated classes on a real mount. This file is compiled twice — with experimentalDecorators
// (dist/spec) and with TC39 decorators (dist/tc39, tsconfig.tc39.json) — and runs in both modes.
import { expect } from 'chai';
import { promises as fs } from 'fs';
import { Counter, Gauge, Histogram, Parameter, procstat, ProcstatError, Series, Stat, StatDir, StartEnd } from '../src';
import { mountTemp } from './helpers/mounts';
import { sh, shOk } from './helpers/shell';

const MODE = (() => {
  let mode = '';
  const probe = (...args: any[]) => { mode = typeof args[1] === 'object' ? 'TC39' : 'legacy'; };
  class Probe { @probe x = 0; }
  void Probe;
  return mode;
})();

@StatDir()
class Worker {
  @Counter() jobsDone = 0;
  @Counter('bytes-out') bytesOut = 0n;
  @Gauge() get queueDepth() { return this.queue.length; }
  @Parameter() concurrency = 4;
  @Stat() latency = new Series();
  @Stat() sizes = new Histogram([0.5, 0.9, 0.99]);
  @Stat() window = new StartEnd(10, 20);
  @Stat() healthy = true;
  @Stat() owner = 'team-a';
  @Stat() started = new Date(Date.UTC(2026, 0, 2));
  // No type annotation: design:type is Object; the runtime value decides.
  @Gauge() ratio = 0.25 as any;
  queue: number[] = [];
}

@StatDir({ name: 'pool' })
class Pool {
  @Gauge() size = 2;
  @Stat() workers = [new Worker(), new Worker()];
}

@StatDir({ name: 'http', key: (s: HttpServer) => s.port })
class HttpServer {
  @Counter() requests = 0;
  @Stat() pool = new Pool();
  @Stat() routes = new Map<string, Route>([['GET /users', new Route()], ['POST /login', new Route()]]);
  constructor(readonly port: number) {}
}

@StatDir({ key: 'path' })
class Route {
  @Counter() hits = 0;
  path = '';
}

@StatDir({ key: 'id' })
class Session {
  @Counter() messages = 0;
  constructor(readonly id: string) {}
}

@StatDir({ name: 'config', singleton: true })
class Config {
  @Parameter({ min: 1, max: 100 }) retries = 3;
  @Parameter({ type: 'number', validate: (v: number) => v !== 13 || 'unlucky' }) timeout = 1.5;
  @Parameter() verbose = false;
  @Parameter() label = 'blue';
}

@StatDir()
class Base {
  @Counter() baseCount = 1;
}

@StatDir()
class Derived extends Base {
  @Counter() derivedCount = 2;
}

let probeCalls = 0;

@StatDir()
class Probe {
  @Counter() requests = 7;
  @Gauge() get expensive() { probeCalls++; return 1; }
  @Parameter() get level() { probeCalls++; return 3; }
  set level(value: number) { void value; }
}

@StatDir()
class Leaf {
  @Counter() hits = 0;
}

@StatDir()
class Cell {
  @Counter() hits = 0;
}

@StatDir()
class Grid {
  @Stat() rows = [[new Cell()], [new Cell()]];
  @Stat() byArea = new Map([['north', new Map([['n1', new Cell()]])]]);
}

@StatDir()
class Keyed {
  @Stat() byName = new Map<string, Leaf>([['a/b', new Leaf()], ['a_b', new Leaf()], ['a b', new Leaf()]]);
}

@StatDir()
class Holder {
  @Stat() scores = new Map<string, number>(Array.from({ length: 8 }, (_, i) => [`k${i}`, i]));
  @Stat() sizes = Array.from({ length: 8 }, (_, i) => i);
}

@StatDir({ key: 'name' })
class Peer {
  @Counter() n = 0;
  @Stat() peer: Peer | null = null;
  constructor(readonly name: string) {}
}

@StatDir()
class Plainly {
  @Counter() base = 1;
}

class Undecorated extends Plainly {
  @Counter() extra = 2;
}

describe(`decorators (${MODE})`, () => {
  let mnt: string;
  const made: object[] = [];
  const track = <T extends object>(obj: T): T => { made.push(obj); return obj; };

  beforeEach(async () => {
    mnt = await mountTemp(procstat);
  });

  afterEach(() => {
    for (const obj of made.splice(0)) procstat.release(obj);
  });

  it('compiles in the mode its build asks for', () => {
    // dist/tc39 is built by tsconfig.tc39.json (TC39 decorators), dist/spec by tsconfig.json (legacy).
    expect(MODE).to.equal(__filename.includes('/dist/tc39/') ? 'TC39' : 'legacy');
  });

  it('every instance gets a directory with a file per decorated field', async () => {
    const a = track(new Worker());
    const b = track(new Worker());
    a.jobsDone = 5;
    b.bytesOut = 12345678901234567890n;
    b.queue.push(1, 2, 3);
    a.latency.addPoint(4);
    const keys = (await shOk(`ls ${mnt}/Worker`)).trim().split('\n');
    expect(keys.length).to.be.at.least(2);
    const dirA = `${mnt}/Worker/${keys[keys.length - 2]}`;
    const dirB = `${mnt}/Worker/${keys[keys.length - 1]}`;
    expect(await shOk(`cat ${dirA}/jobsDone ${dirB}/bytes-out ${dirB}/queueDepth`)).to.equal('5\n12345678901234567890\n3\n');
    expect(await shOk(`cat ${dirA}/healthy ${dirA}/owner ${dirA}/started ${dirA}/ratio`))
      .to.equal('1\nteam-a\n2026-01-02T00:00:00.000Z\n0.25\n');
    expect(await shOk(`cat ${dirA}/latency/count ${dirA}/latency/max ${dirA}/window/start ${dirA}/window/end`)).to.equal('1\n4\n10\n20\n');
    expect((await shOk(`ls ${dirA}/sizes | sort | xargs`)).trim()).to.equal('50 90 99 avg count get_reset_interval_sec last reset reset_interval_sec sum');
    expect((await shOk(`ls ${dirA} | sort | xargs`)).trim()).to.equal(
      'bytes-out concurrency healthy jobsDone latency owner queueDepth ratio sizes started window');
  });

  it('a parameter is writable with echo and validated; the object sees the new value', async () => {
    const worker = track(new Worker());
    const key = (await shOk(`ls ${mnt}/Worker`)).trim().split('\n').pop();
    await shOk(`echo 8 > ${mnt}/Worker/${key}/concurrency`);
    expect(worker.concurrency).to.equal(8);
    expect((await sh(`echo 8.5 > ${mnt}/Worker/${key}/concurrency`)).stderr).to.match(/Invalid argument/);
    expect((await sh(`echo 1 > ${mnt}/Worker/${key}/jobsDone`)).stderr).to.match(/Permission denied/);
    expect(worker.concurrency).to.equal(8);
  });

  it('@Parameter options: min, max, type, validate; booleans and strings', async () => {
    const config = track(new Config());
    const dir = `${mnt}/config`;
    expect(await shOk(`cat ${dir}/retries ${dir}/timeout ${dir}/verbose ${dir}/label`)).to.equal('3\n1.5\n0\nblue\n');
    for (const [file, bad] of [['retries', '0'], ['retries', '101'], ['timeout', '13'], ['timeout', 'x'], ['verbose', 'maybe']]) {
      expect((await sh(`echo ${bad} > ${dir}/${file}`)).stderr, `${file}=${bad}`).to.match(/Invalid argument/);
    }
    await shOk(`echo 7 > ${dir}/retries; echo 2.25 > ${dir}/timeout; echo on > ${dir}/verbose; echo green > ${dir}/label`);
    expect([config.retries, config.timeout, config.verbose, config.label]).to.deep.equal([7, 2.25, true, 'green']);
  });

  it('a singleton has no instance level, and a new one replaces the old', async () => {
    track(new Config()).retries = 9;
    expect(await shOk(`cat ${mnt}/config/retries`)).to.equal('9\n');
    track(new Config()).retries = 11;
    expect(await shOk(`cat ${mnt}/config/retries`)).to.equal('11\n');
  });

  it('nests @StatDir objects, arrays and Maps under their field, not a second time at the top', async () => {
    const server = track(new HttpServer(8080));
    server.pool.workers[1].jobsDone = 42;
    server.routes.get('POST /login')!.hits = 3;
    expect(await shOk(`cat ${mnt}/http/8080/pool/workers/1/jobsDone ${mnt}/http/8080/pool/size`)).to.equal('42\n2\n');
    expect((await shOk(`ls ${mnt}/http/8080/routes | xargs`)).trim()).to.equal('GET__users POST__login');
    expect(await shOk(`cat ${mnt}/http/8080/routes/POST__login/hits`)).to.equal('3\n');
    expect(await shOk(`cd ${mnt}/http/8080 && grep -r . routes requests`)).to.equal(
      'routes/GET__users/hits:0\nroutes/POST__login/hits:3\nrequests:0\n');
    const top = (await shOk(`ls ${mnt}`)).split('\n');
    expect(top).to.not.include('pool');
    expect(top).to.not.include('Route');
    const workers = (await sh(`ls ${mnt}/Worker`)).stdout.trim().split('\n').filter(Boolean);
    expect(workers.length).to.equal(0);
  });

  it('instance keys: a property or a function, sanitized, collisions get a suffix', async () => {
    track(new Session('alice@example.com'));
    track(new Session('alice@example.com'));
    track(new HttpServer(9090));
    expect((await shOk(`ls ${mnt}/Session | xargs`)).trim()).to.equal('alice_example.com alice_example.com-1');
    expect((await shOk(`ls ${mnt}/http`)).split('\n')).to.include('9090');
  });

  it('release(obj) removes the directory; a file opened before reads ENOENT', async () => {
    const session = track(new Session('bob'));
    const handle = await fs.open(`${mnt}/Session/bob/messages`, 'r');
    try {
      procstat.release(session);
      expect((await sh(`ls ${mnt}/Session`)).stdout).to.not.include('bob');
      expect(await handle.read(Buffer.alloc(8), 0, 8, 0).catch((err) => err.code)).to.equal('ENOENT');
    } finally {
      await handle.close();
    }
  });

  it('a garbage-collected instance disappears by itself', async () => {
    (() => { new Session('ephemeral'); })();
    expect((await shOk(`ls ${mnt}/Session`)).split('\n')).to.include('ephemeral');
    // Once its last instance is gone, the class directory goes too: `ls` may fail, so use sh.
    // Collection and the finalizer that follows run when V8 gets to them: give them up to 2 s.
    for (let i = 0; i < 100 && (await sh(`ls ${mnt}/Session`)).stdout.includes('ephemeral'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      global.gc!();
    }
    expect((await sh(`ls ${mnt}/Session`)).stdout.split('\n')).to.not.include('ephemeral');
  });

  it('a subclass inherits its parent\'s stats and is registered once, under its own class', async () => {
    track(new Derived());
    expect((await sh(`ls ${mnt}/Base`)).stdout.trim()).to.equal('');
    const keys = (await shOk(`ls ${mnt}/Derived`)).trim().split('\n');
    expect(keys).to.have.length(1);
    expect(await shOk(`cat ${mnt}/Derived/${keys[0]}/baseCount ${mnt}/Derived/${keys[0]}/derivedCount`)).to.equal('1\n2\n');
  });

  it('fields stay plain data properties: no accessors on the hot path', () => {
    const worker = track(new Worker());
    for (const key of ['jobsDone', 'bytesOut', 'concurrency', 'latency']) {
      const descriptor = Object.getOwnPropertyDescriptor(worker, key)!;
      expect(descriptor, key).to.have.property('value');
      expect(descriptor.get, key).to.equal(undefined);
      expect(descriptor.set, key).to.equal(undefined);
    }
    let proto = Object.getPrototypeOf(worker);
    while (!Object.getOwnPropertyDescriptor(proto, 'queueDepth')) proto = Object.getPrototypeOf(proto);
    expect(Object.getOwnPropertyDescriptor(proto, 'queueDepth')!.get, 'the getter is left as written').to.be.a('function');
  });

  it('a @Counter, @Gauge or @Parameter getter runs only when a file of its directory is read, once for the batch', async () => {
    const probe = track(new Probe());
    const dir = `${mnt}/Probe/${(await shOk(`ls ${mnt}/Probe`)).trim().split('\n').pop()}`;
    probeCalls = 0;
    expect((await shOk(`ls -l ${dir}`)).split('\n').join(' ')).to.include('expensive').and.include('level').and.include('requests');
    expect(probeCalls, 'listing runs no getter').to.equal(0);
    // One batch produces the directory's values: both getters run once, and the cats right after are served from it.
    expect(await shOk(`cat ${dir}/requests ${dir}/expensive ${dir}/level`)).to.equal('7\n1\n3\n');
    expect(probeCalls).to.equal(2);
    expect((await sh(`bash -c 'echo 4.5 > ${dir}/level'`)).stderr).to.match(/Invalid argument/);
    void probe;
  });

  it('Map keys that sanitize to one name get -1, -2 … and every element is shown under its Map', async () => {
    const keyed = track(new Keyed());
    const dir = `${mnt}/Keyed/${(await shOk(`ls ${mnt}/Keyed`)).trim().split('\n').pop()}`;
    expect((await shOk(`ls ${dir}/byName`)).trim().split('\n')).to.deep.equal(['a_b', 'a_b-1', 'a_b-2']);
    expect(await shOk(`cat ${dir}/byName/a_b-2/hits`)).to.equal('0\n');
    expect((await sh(`ls ${mnt}/Leaf`)).stdout, 'no element is also listed at the top').to.equal('');
    for (const leaf of keyed.byName.values()) track(leaf);
  });

  it('objects in arrays of arrays and Maps of Maps are shown there only, not also at the top of their class', async () => {
    const grid = track(new Grid());
    const dir = `${mnt}/Grid/${(await shOk(`ls ${mnt}/Grid`)).trim().split('\n').pop()}`;
    expect(await shOk(`cat ${dir}/rows/1/0/hits ${dir}/byArea/north/n1/hits`)).to.equal('0\n0\n');
    expect((await sh(`ls ${mnt}/Cell`)).stdout).to.equal('');
    for (const cell of [...grid.rows.flat(), ...grid.byArea.get('north')!.values()]) track(cell);
  });

  it('an element that left its array or Map reads ENOENT at once, not an empty value', async () => {
    const holder = track(new Holder());
    const dir = `${mnt}/Holder/${(await shOk(`ls ${mnt}/Holder`)).trim().split('\n').pop()}`;
    expect(await shOk(`cd ${dir} && cat scores/k7 sizes/7`)).to.equal('7\n7\n');
    // Each read comes right after its element left, before a refresh round could notice (one each 100 ms).
    for (let i = 7; i > 0; i--) {
      holder.scores.delete(`k${i}`);
      holder.sizes.pop();
      for (const gone of [`scores/k${i}`, `sizes/${i}`]) {
        const read = await sh(`cat ${dir}/${gone}`);
        expect(read.stdout, gone).to.equal('');
        expect(read.stderr, gone).to.match(/No such file or directory/);
      }
    }
    expect(await shOk(`cd ${dir} && cat scores/k0 sizes/0`)).to.equal('0\n0\n');
  });

  it('an object given to an empty @Stat field later is shown under it, not also at the top; released, the holder gives it back at once', async () => {
    const listed = async () => (await shOk(`ls ${mnt}/Peer`)).trim().split('\n');
    for (let i = 0; i < 4; i++) {
      const [holder, held] = [track(new Peer(`holder${i}`)), track(new Peer(`held${i}`))];
      holder.peer = held;
      await new Promise((resolve) => setTimeout(resolve, 250)); // a refresh round reads the field
      expect(await listed()).to.include(`holder${i}`).and.not.include(`held${i}`);
      expect(await shOk(`cat ${mnt}/Peer/holder${i}/peer/n`)).to.equal('0\n');
      procstat.release(holder);
      expect(await listed()).to.include(`held${i}`).and.not.include(`holder${i}`);
    }
  });

  it('a subclass with decorated fields but no @StatDir of its own is warned of once, naming the fix', async () => {
    const warnings: string[] = [];
    const listen = (warning: Error) => { if (warning.name === 'ProcstatWarning') warnings.push(warning.message); };
    process.on('warning', listen);
    try {
      track(new Undecorated());
      track(new Undecorated());
      track(new Plainly());
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', listen);
    }
    expect(warnings).to.deep.equal(['Undecorated has decorated fields but no @StatDir of its own, so they are not shown: its instances ' +
      'are shown as Plainly instances with Plainly\'s fields; add @StatDir() to Undecorated']);
  });

  it('a bad file name is a ProcstatError naming the class and field, when the class is defined', () => {
    const define = () => {
      @StatDir()
      class Broken {
        @Counter('hits%') hits = 0;
      }
      return Broken;
    };
    expect(define).to.throw(ProcstatError, /@Counter on Broken\.hits: invalid name "hits%"/);
    const getterOnly = () => {
      @StatDir()
      class ReadOnly {
        @Parameter() get level() { return 1; }
      }
      return ReadOnly;
    };
    expect(getterOnly).to.throw(ProcstatError, /@Parameter on ReadOnly\.level: a getter without a setter cannot be a parameter/);
    const sameName = () => {
      @StatDir()
      class Dup {
        @Counter('x') a = 1;
        @Counter('x') b = 2;
      }
      return Dup;
    };
    expect(sameName).to.throw(ProcstatError, '@Counter on Dup.b: the file name "x" is already used by Dup.a; pass another name');
    const renamedOntoParent = () => {
      @StatDir()
      class Sub extends Base {
        @Counter('baseCount') other = 3;
      }
      return Sub;
    };
    expect(renamedOntoParent).to.throw(ProcstatError, '@Counter on Sub.other: the file name "baseCount" is already used by Sub.baseCount; pass another name');
    const reserved = () => {
      @StatDir({ name: 'procstat' })
      class Status { @Counter() n = 0; }
      return Status;
    };
    expect(reserved).to.throw(ProcstatError, '@StatDir on class Status: "procstat" is reserved at the mount root');
  });

  it('instances made before mount() appear once it mounts', async () => {
    await procstat.unmount();
    track(new Session('early'));
    mnt = await mountTemp(procstat);
    expect((await shOk(`ls ${mnt}/Session`)).split('\n')).to.include('early');
  });
});
