// Issue 11: values and views that never lie. One case (or more) per item handled here, named after it.
// Items 1 and 5 to 8 run without FUSE (the snapshot writer, the views and the runtime alone); items 3
// and 4 and the properties check the runtime tree and a real mount.
import { expect } from 'chai';
import { execFile } from 'child_process';
import fc from 'fast-check';
import { existsSync, promises as fs } from 'fs';
import * as path from 'path';
import { Counter, Gauge, Procstat, ProcstatError, procstat, Stat, StatDir } from '../src';
import { ClassDir } from '../src/runtime/class-dir';
import { InstanceDir } from '../src/runtime/instance-dir';
import { DirNode, FileNode } from '../src/runtime/nodes';
import { sanitizeName } from '../src/runtime/names';
import { SnapshotWriter } from '../src/snapshot/snapshot-writer';
import { mountTemp, tempPath } from './helpers/mounts';
import { sh, shOk } from './helpers/shell';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A context that records what it reports through 'error'. */
function recording(): { ctx: Procstat; errors: Error[] } {
  const ctx = new Procstat();
  const errors: Error[] = [];
  ctx.on('error', (err: Error) => errors.push(err));
  return { ctx, errors };
}

/** Every file below `dir`, relative, sorted. */
async function filesBelow(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath ?? (e as any).path, e.name))).sort();
}

@StatDir({ name: 'issue11-srv', key: 'port' })
class Issue11Server {
  @Counter() requests = 1;
  constructor(readonly port: number) {}
}

/** Numbers every Peer, so that a shell listing tells which object a directory shows. */
let peerIds = 0;

@StatDir({ name: 'issue11-peer' })
class Peer {
  @Counter() id = ++peerIds;
  @Stat() peer: Peer | null;
  @Stat() kids: Peer[];
  constructor(peer: Peer | null = null, kids: Peer[] = []) {
    this.peer = peer;
    this.kids = kids;
  }
}

/**
 * The `@StatDir` objects shown below `ctx`'s root, found the way `find` finds them (a listing, then
 * a lookup per name). Fails when a directory shows an instance inside itself: that tree never ends.
 */
function shownObjects(ctx: Procstat): Set<object> {
  const shown = new Set<object>();
  const stack: Array<{ dir: DirNode; above: object[] }> = [{ dir: ctx.tree.root, above: [] }];
  for (let visits = 0; stack.length > 0; visits++) {
    expect(visits, 'the tree ends').to.be.below(20_000);
    const { dir, above } = stack.pop()!;
    for (const name of dir.names()) {
      const child = dir.child(name);
      if (!(child instanceof DirNode)) continue;
      const obj = child instanceof InstanceDir ? child.ref.deref() : undefined;
      if (obj) {
        expect(above, `${child.pathFrom(null)} shows an instance inside itself`).to.not.include(obj);
        shown.add(obj);
      }
      stack.push({ dir: child, above: obj ? [...above, obj] : above });
    }
  }
  return shown;
}

/** The objects a class directory lists at its top level, in listing order. */
function listed(ctx: Procstat, className: string): object[] {
  const dir = ctx.tree.root.child(className);
  if (!(dir instanceof ClassDir)) return [];
  return dir.names().map((key) => (dir.child(key) as InstanceDir).ref.deref()!);
}

/** The key under which a class directory lists `obj`. */
function keyIn(ctx: Procstat, className: string, obj: object): string {
  const dir = ctx.tree.root.child(className) as ClassDir;
  const key = dir.names().find((name) => (dir.child(name) as InstanceDir).ref.deref() === obj);
  expect(key, `${className} lists the object`).to.be.a('string');
  return key!;
}

/** Polls `check` until it holds: a mount shows a change after the publisher's next refresh round. */
async function eventually(check: () => Promise<boolean>): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return true;
    await sleep(50);
  }
  return false;
}

/** The names `ls` prints for a directory of the mount (none when it does not exist). */
async function ls(dir: string): Promise<string[]> {
  return (await sh(`ls ${dir}`)).stdout.split('\n').filter(Boolean);
}

describe('issue 11', () => {
  describe('item 1: the snapshot fallback destroys nothing it did not make', () => {
    it('issue 11 item 1: unmount() leaves a directory it did not create, and the files in it, in place', async () => {
      const dir = tempPath('snap-existing');
      await fs.mkdir(dir);
      await fs.writeFile(path.join(dir, 'keep.txt'), 'mine\n');
      const { ctx } = recording();
      const svc = ctx.createDirectory(null, 'svc');
      ctx.createValue(svc, 'ticks', () => 7);
      ctx.createValue(null, 'pid', () => process.pid);
      const writer = await SnapshotWriter.start(ctx.view, dir, 20);
      expect(await fs.readFile(path.join(dir, 'svc', 'ticks'), 'utf8')).to.equal('7\n');
      // A file of the user's inside a directory the writer made stays too.
      await fs.writeFile(path.join(dir, 'svc', 'notes.txt'), 'also mine\n');
      await writer.unmount();
      expect(await fs.readFile(path.join(dir, 'keep.txt'), 'utf8')).to.equal('mine\n');
      expect(await fs.readFile(path.join(dir, 'svc', 'notes.txt'), 'utf8')).to.equal('also mine\n');
      expect(await filesBelow(dir)).to.deep.equal(['keep.txt', 'svc/notes.txt']);
    });

    it('issue 11 item 1: a directory the writer created is removed on unmount()', async () => {
      const dir = path.join(tempPath('snap-new'), 'a', 'b');
      const ctx = new Procstat();
      ctx.createValue(ctx.createDirectory(null, 'svc'), 'v', () => 1);
      const writer = await SnapshotWriter.start(ctx.view, dir, 20);
      expect(await filesBelow(dir)).to.deep.equal(['svc/v']);
      await writer.unmount();
      expect(existsSync(path.dirname(path.dirname(dir))), 'every directory it made is gone').to.equal(false);
    });

    it('issue 11 item 1: a file of the user\'s at a path of the tree is neither overwritten nor removed', async () => {
      const dir = tempPath('snap-clash');
      await fs.mkdir(dir);
      await fs.writeFile(path.join(dir, 'pid'), 'not yours\n');
      const { ctx, errors } = recording();
      ctx.createValue(null, 'pid', () => process.pid);
      ctx.createValue(null, 'other', () => 2);
      const writer = await SnapshotWriter.start(ctx.view, dir, 20);
      await sleep(60);
      await writer.unmount();
      expect(await fs.readFile(path.join(dir, 'pid'), 'utf8')).to.equal('not yours\n');
      expect(await filesBelow(dir)).to.deep.equal(['pid']);
      expect(errors.map((e) => e.message).join('\n')).to.match(/pid.*exists/);
      expect(errors).to.have.length(1);
    });

    it('issue 11 item 1: at a normal exit, the fallback removes its files and leaves the user\'s', async function () {
      this.timeout(20_000);
      const dir = tempPath('snap-exit');
      await fs.mkdir(dir);
      await fs.writeFile(path.join(dir, 'keep.txt'), 'mine\n');
      const script = `
        const { Procstat } = require(${JSON.stringify(path.join(__dirname, '..', 'src'))});
        const ctx = new Procstat();
        ctx.createValue(ctx.createDirectory(null, 'svc'), 'v', () => 1);
        ctx.mount(${JSON.stringify(dir)}, { fallback: 'snapshot', snapshotIntervalMs: 50 }).then(() => {
          const fs = require('fs');
          console.log(fs.readFileSync(${JSON.stringify(path.join(dir, 'svc', 'v'))}, 'utf8').trim());
        });`;
      // Without fusermount on $PATH, FUSE cannot be used and the program falls back to snapshots.
      const out = await new Promise<string>((resolve, reject) => execFile(process.execPath, ['-e', script],
        { env: { ...process.env, PATH: '/nonexistent' } }, (err, stdout) => (err ? reject(err) : resolve(stdout))));
      expect(out).to.equal('1\n');
      expect(await filesBelow(dir)).to.deep.equal(['keep.txt']);
      expect(existsSync(path.join(dir, 'svc'))).to.equal(false);
    });

    it('issue 11 item 1: in snapshot mode a throwing getter keeps the file\'s previous value', async () => {
      const dir = tempPath('snap-throw');
      const { ctx, errors } = recording();
      let broken = false;
      ctx.createValue(null, 'flaky', () => { if (broken) throw new Error('boom'); return 41; });
      const writer = await SnapshotWriter.start(ctx.view, dir, 20);
      try {
        expect(await fs.readFile(path.join(dir, 'flaky'), 'utf8')).to.equal('41\n');
        broken = true;
        await sleep(120);
        expect(await fs.readFile(path.join(dir, 'flaky'), 'utf8')).to.equal('41\n');
        expect(errors, 'reported once, not once per pass').to.have.length(1);
        expect(errors[0].message).to.include('flaky').and.include('boom');
      } finally {
        await writer.unmount();
      }
    });
  });

  describe('item 5: Prometheus names that collide', () => {
    /** Sample lines by metric name and labels. */
    const samples = (text: string) => text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.slice(0, l.lastIndexOf(' ')));

    it('issue 11 item 5: a-b, a_b and aB keep one series (the first in tree order); the others are reported once', () => {
      const { ctx, errors } = recording();
      ctx.createValue(null, 'a-b', () => 1);
      ctx.createValue(null, 'a_b', () => 2);
      ctx.createValue(null, 'aB', () => 3);
      const text = ctx.metrics();
      expect(samples(text)).to.deep.equal(['a_b']);
      expect(text).to.include('a_b 1\n').and.include('# HELP a_b procstat a-b\n');
      ctx.metrics();
      expect(errors.map((e) => e.message)).to.have.length(2);
      expect(errors[0].message).to.include('a_b').and.include('a-b');
      expect(errors.map((e) => (e as ProcstatError).code)).to.deep.equal(['EEXIST', 'EEXIST']);
      // The same field of two instances is one name with two label sets, not a collision.
      const servers = [new Issue11Server(80), new Issue11Server(81)];
      for (const server of servers) ctx.registry.register(server);
      // (procstat_classes_* is the class census, issue 14.)
      expect(samples(ctx.metrics()).filter((name) => !name.startsWith('procstat_classes_')))
        .to.deep.equal(['a_b', 'issue11_srv_requests_total{issue11_srv="80"}', 'issue11_srv_requests_total{issue11_srv="81"}']);
      expect(errors).to.have.length(2);
      for (const server of servers) procstat.release(server);
    });

    it('issue 11 item 5: a file cannot take a name a series or a counter already makes', () => {
      const { ctx, errors } = recording();
      ctx.createSeries(null, 'lat').addPoint(2);
      ctx.createValue(null, 'lat_sum', () => 9);
      ctx.createValue(null, 'lat-min', () => 9);
      ctx.createValue(null, 'jobs', () => 4, { metric: 'counter' });
      ctx.createValue(null, 'jobs_total', () => 5);
      const lines = samples(ctx.metrics());
      expect(new Set(lines).size, lines.join(' ')).to.equal(lines.length);
      expect(lines).to.include.members(['lat_sum', 'lat_count', 'lat_min', 'jobs_total']);
      expect(ctx.metrics()).to.include('lat_sum 2\n').and.include('lat_min 2\n').and.include('jobs_total 4\n');
      expect(errors).to.have.length(3);
    });

    it('issue 11 item 5: property: random names never give one series twice, and every left-out path is reported once', () => {
      const name = fc.stringMatching(/^[A-Za-z0-9_-]{1,6}$/);
      fc.assert(fc.property(fc.uniqueArray(name, { maxLength: 12 }), fc.uniqueArray(name, { maxLength: 4 }), (files, series) => {
        const { ctx, errors } = recording();
        for (const f of files) ctx.createValue(null, f, () => 1, { metric: f.length % 2 ? 'counter' : 'gauge' });
        for (const s of series) if (!files.includes(s)) ctx.createSeries(null, s);
        const text = ctx.metrics();
        ctx.metrics();
        const lines = samples(text);
        expect(new Set(lines).size, text).to.equal(lines.length);
        const types = text.split('\n').filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]);
        expect(new Set(types).size).to.equal(types.length);
        const shown = new Set(text.split('\n').filter((l) => l.startsWith('# HELP ')).map((l) => l.split(' ')[4].split('/')[0]));
        const entries = files.length + series.filter((s) => !files.includes(s)).length;
        expect(shown.size + errors.length, text).to.equal(entries);
      }), { numRuns: 200 });
    });
  });

  describe('item 6: bounds', () => {
    @StatDir({ name: 'issue11-long-keys', key: (o: LongKey) => o.id })
    class LongKey {
      @Counter() hits = 0;
      constructor(readonly id: string) {}
    }

    it('issue 11 item 6: two 300-character instance keys give two names of at most 255 bytes', () => {
      const a = new LongKey('k'.repeat(300));
      const b = new LongKey('k'.repeat(300));
      try {
        const names = procstat.lookup(null, 'issue11-long-keys')!;
        const listed = (names as any).names() as string[];
        expect(listed).to.have.length(2);
        expect(new Set(listed).size).to.equal(2);
        for (const name of listed) expect(Buffer.byteLength(name)).to.be.at.most(255);
      } finally {
        procstat.release(a);
        procstat.release(b);
      }
    });

    it('issue 11 item 6: property: a sanitized key with any -n suffix stays a valid name', () => {
      // Any code point, lone surrogates included. Not fc.string({ unit: 'binary' }): fast-check 4 keeps
      // ~85 MB of it alive for the rest of the process, and the load test after it then ran on a big heap.
      const anyCodePoints = fc.array(fc.integer({ min: 0, max: 0x10ffff })).map((codes) => String.fromCodePoint(...codes));
      fc.assert(fc.property(fc.oneof(anyCodePoints, fc.string({ minLength: 230, maxLength: 600 })), fc.nat({ max: Number.MAX_SAFE_INTEGER }), (key, n) => {
        const name = `${sanitizeName(key)}-${n}`;
        expect(Buffer.byteLength(name)).to.be.at.most(255);
        expect(name).to.match(/^[A-Za-z0-9._-]+$/);
      }));
    });
  });

  describe('item 7: formats as the C library prints them', () => {
    it('issue 11 item 7: \'hex\' prints %lx (ff), \'address\' prints 0x%lx (0xff)', () => {
      const ctx = new Procstat();
      const file = (name: string, value: unknown, format: 'hex' | 'address') =>
        ctx.reader.readFile(ctx.createValue(null, name, () => value, { format }));
      expect(file('h255', 255, 'hex')).to.equal('ff\n');
      expect(file('h0', 0, 'hex')).to.equal('0\n');
      expect(file('hbig', 0x7f001234n, 'hex')).to.equal('7f001234\n');
      expect(file('hneg', -1, 'hex')).to.equal('ffffffffffffffff\n');
      expect(file('a255', 255, 'address')).to.equal('0xff\n');
      expect(file('a0', 0, 'address')).to.equal('0x0\n');
      expect(file('aptr', 0x7f001234n, 'address')).to.equal('0x7f001234\n');
      expect(file('aneg', -1, 'address')).to.equal('0xffffffffffffffff\n');
    });

    it('issue 11 item 7: property: hex and address agree with the integer for every 64-bit value', () => {
      const ctx = new Procstat();
      let value: bigint = 0n;
      const hex = ctx.createValue(null, 'hex', () => value, { format: 'hex' });
      const address = ctx.createValue(null, 'address', () => value, { format: 'address' });
      fc.assert(fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }), (v) => {
        value = v;
        const text = ctx.reader.readFile(hex);
        expect(text).to.match(/^[0-9a-f]+\n$/);
        expect(BigInt(`0x${text.trim()}`)).to.equal(BigInt.asUintN(64, v));
        expect(ctx.reader.readFile(address)).to.equal(`0x${text}`);
      }));
    });
  });

  describe('item 8: every view reads through one path', () => {
    function broken(): { ctx: Procstat; errors: Error[]; bad: FileNode; aggregator: FileNode } {
      const { ctx, errors } = recording();
      const dir = ctx.createDirectory(null, 'svc');
      ctx.createValue(dir, 'good', () => 255, { format: 'hex' });
      const bad = ctx.createValue(dir, 'bad', () => { throw new Error('boom'); });
      const aggregator = ctx.createAggregator(null, 'all');
      return { ctx, errors, bad, aggregator };
    }

    it('issue 11 item 8: the aggregator reports a throwing getter once through \'error\' and shows the rest', () => {
      const { ctx, errors, aggregator } = broken();
      const first = ctx.reader.readFile(aggregator);
      const second = ctx.reader.readFile(aggregator);
      expect(errors).to.have.length(1);
      expect([first, second]).to.deep.equal(['svc/good:ff\n', 'svc/good:ff\n']);
      expect(errors[0].message).to.include('svc/bad').and.include('boom');
    });

    it('issue 11 item 8: the Prometheus view reports a throwing getter once through \'error\'', () => {
      const { ctx, errors } = broken();
      expect(ctx.metrics()).to.include('svc_good 255\n').and.not.include('svc_bad');
      ctx.metrics();
      expect(errors).to.have.length(1);
      expect(errors[0].message).to.include('svc/bad').and.include('boom');
    });

    it('issue 11 item 8: a file read by every view is reported once in all', async () => {
      const { ctx, errors, bad, aggregator } = broken();
      ctx.reader.readFile(aggregator);
      expect(errors, 'the aggregator, read first, reports it').to.have.length(1);
      ctx.metrics();
      expect(() => ctx.reader.readFile(bad)).to.throw(ProcstatError, /boom/);
      const dir = tempPath('snap-views');
      const writer = await SnapshotWriter.start(ctx.view, dir, 20);
      await sleep(60);
      const aggregated = await fs.readFile(path.join(dir, 'all'), 'utf8');
      const good = await fs.readFile(path.join(dir, 'svc', 'good'), 'utf8');
      await writer.unmount();
      expect(errors).to.have.length(1);
      expect([aggregated, good]).to.deep.equal(['svc/good:ff\n', 'ff\n']);
    });
  });

  describe('item 3: decorated objects never vanish', () => {
    const made: Peer[] = [];
    const peer = (...args: ConstructorParameters<typeof Peer>): Peer => {
      const obj = new Peer(...args);
      made.push(obj);
      return obj;
    };
    afterEach(() => { for (const obj of made.splice(0)) procstat.release(obj); });

    it('issue 11 item 3: y, once shown under x.peer, is back in its class directory after x.peer = null', () => {
      const x = peer();
      const y = peer();
      x.peer = y;
      expect(shownObjects(procstat)).to.include(y);
      expect(listed(procstat, 'issue11-peer'), 'shown under x, not a second time').to.deep.equal([x]);
      x.peer = null;
      expect(listed(procstat, 'issue11-peer')).to.deep.equal([x, y]);
      expect(shownObjects(procstat)).to.include(y);
    });

    it('issue 11 item 3: releasing the object that holds y lists y in its class directory again', () => {
      const y = peer();
      const x = peer(y, [peer()]);
      expect(listed(procstat, 'issue11-peer')).to.deep.equal([x]);
      procstat.release(x);
      expect(listed(procstat, 'issue11-peer')).to.have.members([y, x.kids[0]]);
    });

    it('issue 11 item 3: a cycle p.peer = q, q.peer = p lists one of them, shows the other under it, and ends there', () => {
      const p = peer();
      const q = peer();
      p.peer = q;
      q.peer = p;
      for (let pass = 0; pass < 2; pass++) expect(shownObjects(procstat)).to.include(p).and.include(q);
      const top = listed(procstat, 'issue11-peer');
      expect(top).to.have.length(1);
      const other = top[0] === p ? q : p;
      const key = keyIn(procstat, 'issue11-peer', top[0]);
      expect((procstat.lookup(null, `issue11-peer/${key}/peer`) as InstanceDir).ref.deref()).to.equal(other);
      expect(procstat.lookup(null, `issue11-peer/${key}/peer/peer`), 'the ring is cut where it comes back').to.equal(undefined);
      expect(procstat.lookup(null, `issue11-peer/${key}/peer/id`)).to.be.instanceOf(FileNode);
    });

    it('issue 11 item 3: on a mount, y leaves W/<x>/peer and is listed in W again after x.peer = null', async () => {
      const mnt = await mountTemp(procstat);
      const x = peer();
      const y = peer();
      const [kx, ky] = [keyIn(procstat, 'issue11-peer', x), keyIn(procstat, 'issue11-peer', y)];
      x.peer = y;
      expect(await shOk(`cat ${mnt}/issue11-peer/${kx}/peer/id`)).to.equal(`${y.id}\n`);
      expect(await eventually(async () => !(await ls(`${mnt}/issue11-peer`)).includes(ky)), 'shown under x instead').to.equal(true);
      x.peer = null;
      expect(await eventually(async () => (await ls(`${mnt}/issue11-peer`)).includes(ky)), 'listed again').to.equal(true);
      expect(await shOk(`cat ${mnt}/issue11-peer/${ky}/id`)).to.equal(`${y.id}\n`);
      expect(await shOk(`cat ${mnt}/issue11-peer/${kx}/peer`)).to.equal('\n');
    });

    it('issue 11 item 3: on a mount, a ring of every instance of a class is listed once and read whole by grep -r', async function () {
      this.timeout(60_000);
      const mnt = await mountTemp(procstat);
      const [a, b, c] = [peer(), peer(), peer()];
      a.peer = b;
      b.peer = c;
      c.peer = a;
      const ids = JSON.stringify([a.id, b.id, c.id].sort((x, y) => x - y));
      let lines: string[] = [];
      // The lookups of the first pass show procstat the ring; a refresh round then lists one of it.
      const settled = await eventually(async () => {
        lines = (await sh(`grep -r . ${mnt}/issue11-peer --include=id`)).stdout.split('\n').filter(Boolean);
        const seen = lines.map((line) => Number(line.split(':')[1])).sort((x, y) => x - y);
        return JSON.stringify(seen) === ids && (await ls(`${mnt}/issue11-peer`)).length === 1;
      });
      expect(settled, `every id once, one of them listed:\n${lines.join('\n')}`).to.equal(true);
      expect(lines.map((line) => line.split('/peer').length - 1).sort(), 'the ring ends where it comes back').to.deep.equal([0, 1, 2]);
    });
  });

  describe('item 4: getters whose results are new each time', () => {
    @StatDir({ name: 'issue11-getters' })
    class Fresh {
      @Gauge() get now() { return new Date(Date.UTC(2026, 0, 2, 3, 4, 5)); }
      @Stat() get squares() { return [1, 2, 3].map((n) => n * n); }
    }

    @StatDir({ name: 'issue11-async' })
    class Async {
      @Gauge() get pending() { return Promise.resolve(5); }
      @Gauge() get refused() { return Promise.reject(new Error('backend down')); }
      @Counter() done = 1;
    }

    /** Runs `read` while another view (a Prometheus scrape) reads the whole tree every few ms. */
    async function whileScraped<T>(read: () => Promise<T>): Promise<T> {
      const scraper = setInterval(() => procstat.metrics(), 5);
      try {
        return await read();
      } finally {
        clearInterval(scraper);
      }
    }

    it('issue 11 item 4: a getter returning new Date() prints ISO-8601 and keeps its file while other views read the tree', async () => {
      const mnt = await mountTemp(procstat);
      const fresh = new Fresh();
      try {
        const dir = `${mnt}/issue11-getters/${keyIn(procstat, 'issue11-getters', fresh)}`;
        const inode = await shOk(`stat -c %i ${dir}/now`);
        procstat.metrics();
        expect(await shOk(`stat -c %i ${dir}/now`), 'the same file after a scrape').to.equal(inode);
        expect(await shOk(`cat ${dir}/now`)).to.equal('2026-01-02T03:04:05.000Z\n');
        const passes = await whileScraped(async () => {
          const results = [];
          for (let pass = 0; pass < 10; pass++) results.push(await sh(`cd ${dir} && grep -r . now squares`));
          return results;
        });
        // A loaded machine may answer a read past the deadline (EAGAIN); what must never happen is a file gone.
        expect(passes.map((pass) => pass.stderr).join(''), 'no file vanishes').to.not.include('No such file or directory');
        const lines = passes.flatMap((pass) => pass.stdout.split('\n').filter(Boolean));
        expect(new Set(lines)).to.deep.equal(new Set(['now:2026-01-02T03:04:05.000Z', 'squares/0:1', 'squares/1:4', 'squares/2:9']));
      } finally {
        procstat.release(fresh);
      }
    });

    it('issue 11 item 4: a getter returning a fresh array each time lists its elements, also to a reader that opened it before a scrape', async () => {
      const mnt = await mountTemp(procstat);
      const fresh = new Fresh();
      try {
        const dir = `${mnt}/issue11-getters/${keyIn(procstat, 'issue11-getters', fresh)}`;
        const opened = await fs.opendir(`${dir}/squares`);
        procstat.metrics();
        const names: string[] = [];
        for await (const entry of opened) names.push(entry.name);
        expect(names.sort()).to.deep.equal(['0', '1', '2']);
        for (let pass = 0; pass < 3; pass++) {
          expect(await ls(`${dir}/squares`)).to.deep.equal(['0', '1', '2']);
          expect(await shOk(`cat ${dir}/squares/2`)).to.equal('9\n');
          await sleep(150); // a refresh round of the publisher in between
        }
      } finally {
        procstat.release(fresh);
      }
    });

    it('issue 11 item 4: a getter returning a Promise is EIO, reported once through \'error\', never awaited', async () => {
      const errors: Error[] = [];
      const onError = (err: Error) => errors.push(err);
      const rejections: unknown[] = [];
      const onRejection = (reason: unknown) => rejections.push(reason);
      procstat.on('error', onError);
      process.on('unhandledRejection', onRejection);
      const obj = new Async();
      try {
        const mnt = await mountTemp(procstat);
        const key = keyIn(procstat, 'issue11-async', obj);
        const dir = `${mnt}/issue11-async/${key}`;
        for (let pass = 0; pass < 2; pass++) {
          for (const file of ['pending', 'refused']) {
            const result = await sh(`cat ${dir}/${file}`);
            expect(result.stdout, file).to.equal('');
            expect(result.stderr, file).to.match(/Input\/output error/);
          }
        }
        expect(await shOk(`cat ${dir}/done`)).to.equal('1\n');
        const file = procstat.lookup(null, `issue11-async/${key}/pending`) as FileNode;
        expect(() => procstat.reader.readFile(file)).to.throw(ProcstatError, /Promise/).with.property('code', 'EIO');
        expect(procstat.metrics()).to.include(`issue11_async_done_total{issue11_async="${key}"} 1`).and.not.include('pending');
        await sleep(50);
        expect(errors.map((e) => e.message).sort()).to.deep.equal([
          `procstat: /issue11-async/${key}/pending returned a Promise; procstat reads values synchronously and does not await it: return the value itself (keep the result of the async work in a field)`,
          `procstat: /issue11-async/${key}/refused returned a Promise; procstat reads values synchronously and does not await it: return the value itself (keep the result of the async work in a field)`,
        ]);
        expect(rejections, 'a rejected Promise that procstat made a getter return is not left unhandled').to.deep.equal([]);
      } finally {
        procstat.release(obj);
        procstat.off('error', onError);
        process.off('unhandledRejection', onRejection);
      }
    });
  });

  describe('properties', () => {
    type Op =
      | { op: 'create'; peer: number | null; kids: number[] }
      | { op: 'peer'; from: number; to: number | null }
      | { op: 'push'; from: number; to: number }
      | { op: 'clear'; from: number }
      | { op: 'release'; at: number }
      | { op: 'look' };
    const index = fc.nat({ max: 30 });
    const ops = (withLook: boolean) => fc.array(fc.oneof(
      fc.record({ op: fc.constant('create' as const), peer: fc.option(index), kids: fc.array(index, { maxLength: 3 }) }),
      fc.record({ op: fc.constant('peer' as const), from: index, to: fc.option(index) }),
      fc.record({ op: fc.constant('push' as const), from: index, to: index }),
      fc.record({ op: fc.constant('clear' as const), from: index }),
      fc.record({ op: fc.constant('release' as const), at: index }),
      ...(withLook ? [fc.constant({ op: 'look' as const })] : []),
    ), { maxLength: 25 });

    /** Runs `ops` on objects it makes; `look` (if any) checks the tree. Returns the objects and those released. */
    function run(list: Op[], look: (live: Peer[]) => void = () => undefined): { objs: Peer[]; released: Set<Peer> } {
      const objs: Peer[] = [];
      const released = new Set<Peer>();
      const at = (i: number) => objs[i % objs.length];
      for (const op of list) {
        if (op.op === 'create') {
          objs.push(objs.length === 0 ? new Peer() : new Peer(op.peer === null ? null : at(op.peer), op.kids.map(at)));
          continue;
        }
        if (objs.length === 0) continue;
        if (op.op === 'peer') at(op.from).peer = op.to === null ? null : at(op.to);
        if (op.op === 'push') at(op.from).kids.push(at(op.to));
        if (op.op === 'clear') at(op.from).kids = [];
        if (op.op === 'release') { procstat.release(at(op.at)); released.add(at(op.at)); }
        if (op.op === 'look') look(objs.filter((obj) => !released.has(obj)));
      }
      return { objs, released };
    }

    const everyLiveShown = (live: Peer[]) => {
      const shown = shownObjects(procstat);
      expect(live.filter((obj) => !shown.has(obj)).map((obj) => obj.id), 'live objects shown nowhere').to.deep.equal([]);
    };

    it('issue 11 property: create/move/release in any order (cycles, shared children) leaves no live object unreachable in the tree', () => {
      fc.assert(fc.property(ops(true), (list) => {
        const { objs, released } = run(list, everyLiveShown);
        try {
          everyLiveShown(objs.filter((obj) => !released.has(obj)));
        } finally {
          for (const obj of objs) procstat.release(obj);
        }
      }), { numRuns: 150 });
    });

    it('issue 11 property: on a mount, find reaches every live object after any create/move/release sequence', async function () {
      this.timeout(180_000);
      const mnt = await mountTemp(procstat);
      // Sorted and unique: an object held in two places is shown in both.
      const ids = async () => [...new Set((await sh(`find ${mnt}/issue11-peer -name id -exec cat {} +`)).stdout.split('\n').filter(Boolean).map(Number))]
        .sort((x, y) => x - y);
      await fc.assert(fc.asyncProperty(ops(false), async (list) => {
        const { objs, released } = run(list);
        try {
          const live = objs.filter((obj) => !released.has(obj)).map((obj) => obj.id).sort((x, y) => x - y);
          let shown: number[] = [];
          await eventually(async () => JSON.stringify(shown = await ids()) === JSON.stringify(live));
          expect(shown).to.deep.equal(live);
        } finally {
          for (const obj of objs) procstat.release(obj);
        }
      }), { numRuns: 12 });
    });

    it('issue 11 property: a value written in pieces (any cuts, with or without a final newline) gives what one write gives', async function () {
      this.timeout(180_000);
      const ctx = new Procstat();
      let limit = 5;
      let label = 'start';
      ctx.createParameter(null, 'limit', { get: () => limit, set: (v: number) => { limit = v; }, min: 5 });
      ctx.createParameter(null, 'label', { get: () => label, set: (v: string) => { label = v; } });
      const mnt = await mountTemp(ctx);
      const body = fc.oneof(
        fc.integer().map(String),
        fc.stringMatching(/^[0-9]{1,3}$/),
        fc.string({ maxLength: 40 }),
        fc.constantFrom('héllo wörld', '日本語', '🙂 x', ' 12 ', '1e3', '0x10'),
        fc.integer({ min: 4090, max: 4100 }).map((n) => '7'.repeat(n)),
        // Around the addon's 64 KiB buffer: a value that outgrows it is refused whole, its tail too.
        fc.integer({ min: 64 * 1024 - 16, max: 64 * 1024 + 16 * 1024 }).map((n) => '8'.repeat(n)),
      ).map((text) => text.replace(/\n/g, ' '));
      /** The value after `write`, and the error code it ended with. */
      const outcome = async (file: string, write: () => Promise<void>) => {
        limit = 5;
        label = 'start';
        const error = await write().then(() => undefined, (err) => err.code as string);
        return { value: file === 'limit' ? limit : label, error };
      };
      await fc.assert(fc.asyncProperty(fc.constantFrom('limit', 'label'), body, fc.boolean(), fc.array(fc.nat(), { maxLength: 6 }),
        async (file, text, newline, cuts) => {
          const bytes = Buffer.from(newline ? `${text}\n` : text);
          const at = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].filter((cut) => cut > 0 && cut < bytes.length).sort((x, y) => x - y);
          const pieces = [0, ...at].map((start, i) => bytes.subarray(start, [...at, bytes.length][i]));
          const whole = await outcome(file, () => fs.writeFile(`${mnt}/${file}`, bytes));
          // A writer that goes on after a refused piece (as dd conv=noerror does): what follows a refused
          // piece must never be applied as a value of its own.
          const inPieces = await outcome(file, async () => {
            const handle = await fs.open(`${mnt}/${file}`, 'w');
            let first: unknown;
            try {
              let offset = 0;
              for (const piece of pieces) {
                await handle.write(piece, 0, piece.length, offset).catch((err) => { first ??= err; });
                offset += piece.length;
              }
            } finally {
              await handle.close().catch((err) => { first ??= err; });
            }
            if (first) throw first;
          });
          expect(inPieces, `${pieces.length} pieces`).to.deep.equal(whole);
        }), { numRuns: 150 });
    });
  });
});
