// procstat's own FUSE binding (issue 10): each case is a crash, leak, hang or hole that the
// fuse-native mount had, found by trying to break it; named after the finding's number.
import { expect } from 'chai';
import { promises as fs, readdirSync, readFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Counter, Procstat, procstat, StatDir } from '../src';
import { ClassDir } from '../src/runtime/class-dir';
import { InstanceDir } from '../src/runtime/instance-dir';
import { Table } from '../src/runtime/int-table';
import { isMounted, mountTemp, tempPath, unmountedSoon } from './helpers/mounts';
import { serve } from './helpers/serve';
import { sh, shOk } from './helpers/shell';

@StatDir()
class Tiny {
  @Counter() n = 1;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** This process's children called `name`, read from /proc (pgrep hangs under the ASan preload). */
function childrenNamed(name: string): number {
  let count = 0;
  for (const pid of readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    const stat = (() => { try { return readFileSync(`/proc/${pid}/stat`, 'utf8'); } catch { return ''; } })();
    const match = /^\d+ \((.*)\) \S+ (\d+)/.exec(stat);
    if (match && match[1] === name && Number(match[2]) === process.pid) count++;
  }
  return count;
}

/** This process's children (pid and name), read from /proc: the living and the unreaped alike. */
function children(): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    const stat = (() => { try { return readFileSync(`/proc/${pid}/stat`, 'utf8'); } catch { return ''; } })();
    const match = /^\d+ \((.*)\) (\S+) (\d+)/.exec(stat);
    if (match && Number(match[3]) === process.pid) found.push(`${pid} ${match[1]} (${match[2]})`);
  }
  return found;
}

/** How many of a class directory's instances have a directory node (made when a reader opens one). */
function instanceNodesMade(className: string): number {
  const classDir = procstat.tree.root.child(className) as ClassDir;
  return [...(classDir as unknown as { dirs: Table<number, unknown> }).dirs.entries()].filter(([, dir]) => dir instanceof InstanceDir).length;
}

describe('binding: lifecycle', function () {
  this.timeout(60_000);

  it('finding 1: mount → unmount of one context 10 times, in 3 processes: no crash, every mount answers', async () => {
    for (let run = 0; run < 3; run++) {
      const served = serve(['cycles', tempPath('cycles')]);
      expect(await served.exited, served.output()).to.deep.equal({ code: 0, signal: null });
      const reads = served.output().split('\n').filter((line) => line.startsWith('READ '));
      expect(reads).to.deep.equal(Array.from({ length: 10 }, (_, i) => `READ ${i + 1}`));
    }
  });

  it('finding 2: a mount path holding $(…) or `…` runs nothing', async () => {
    const dir = tempPath('inject');
    await fs.mkdir(dir);
    const ctx = new Procstat();
    ctx.createValue(null, 'v', () => 7);
    for (const name of ['a$(touch pwned-dollar)b', 'c`touch pwned-tick`d', "e';touch pwned-quote;'f"]) {
      const mnt = path.join(dir, name);
      await ctx.mount(mnt);
      expect(await fs.readFile(path.join(mnt, 'v'), 'utf8')).to.equal('7\n');
      await ctx.unmount();
      expect(isMounted(mnt)).to.equal(false);
    }
    for (const where of [dir, process.cwd(), os.homedir(), '/']) {
      expect((await fs.readdir(where)).filter((n) => n.startsWith('pwned-')), where).to.deep.equal([]);
    }
  });

  it('finding 2: after an operator\'s fusermount3 -u, the process ends cleanly (no abort)', async () => {
    const mnt = tempPath('operator');
    const served = serve(['operator', mnt]);
    expect(await served.exited, served.output()).to.deep.equal({ code: 0, signal: null });
    expect(served.output()).to.include('DONE').and.not.match(/uv_loop_close|Assertion|FATAL/);
    expect(isMounted(mnt)).to.equal(false);
  });

  it('finding 3: 200 mount/unmount cycles, a value read with cat in each, leave no descriptor and no child process (no fusermount3) behind', async function () {
    this.timeout(120_000);
    const ctx = new Procstat();
    let cycle = -1;
    ctx.createValue(null, 'a', () => 1);
    ctx.createValue(null, 'b', () => 'two');
    ctx.createValue(null, 'v', () => cycle);
    const mnt = tempPath('cycles200');
    const helpers = () => childrenNamed('fusermount3');
    // Warm up: the first mount loads the addon and starts libuv's own descriptors; the first cat, those for child processes.
    await ctx.mount(mnt);
    await shOk(`cat ${mnt}/a`);
    await ctx.unmount();
    const fdsBefore = readdirSync('/proc/self/fd').length;
    const childrenBefore = children();
    for (let i = 0; i < 200; i++) {
      cycle = i;
      await ctx.mount(mnt);
      if (i === 0) expect(helpers(), 'auto_unmount keeps one fusermount3 while mounted').to.equal(1);
      expect(await shOk(`cat ${mnt}/v`), `cycle ${i}`).to.equal(`${i}\n`);
      await ctx.unmount();
    }
    expect(isMounted(mnt)).to.equal(false);
    expect(readdirSync('/proc/self/fd').length, 'descriptors of this process').to.equal(fdsBefore);
    expect(children(), 'child processes of this process').to.deep.equal(childrenBefore);
    expect(helpers()).to.equal(0);
  });

  it('finding 4: with allowOther (default_permissions), another user reads but cannot write a 0644 parameter or a 0200 control', async () => {
    // Below /tmp, not the spec root (0700): the other user must be able to reach the mount.
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'procstat-allow-'));
    await fs.chmod(dir, 0o755);
    const mnt = path.join(dir, 'mnt');
    const ctx = new Procstat();
    let limit = 5;
    let control = 0;
    ctx.createParameter(null, 'limit', { get: () => limit, set: (v: number) => { limit = v; } });
    ctx.createParameter(null, 'control', { type: 'int', set: (v: number) => { control = v; } });
    const warn = process.listeners('warning');
    process.removeAllListeners('warning');
    try {
      await ctx.mount(mnt, { allowOther: true });
      expect(await shOk(`findmnt -n -o OPTIONS ${mnt}`)).to.include('allow_other').and.include('default_permissions');
      const asNobody = (command: string) => sh(`setpriv --reuid=65534 --regid=65534 --clear-groups bash -c '${command}'`);
      expect((await asNobody(`cat ${mnt}/limit`)).stdout).to.equal('5\n');
      expect((await asNobody(`echo 9 > ${mnt}/limit`)).stderr).to.match(/Permission denied/);
      expect((await asNobody(`echo 9 > ${mnt}/control`)).stderr).to.match(/Permission denied/);
      expect([limit, control]).to.deep.equal([5, 0]);
      await shOk(`echo 9 > ${mnt}/limit`); // the owner still can
      expect(limit).to.equal(9);
    } finally {
      await ctx.unmount();
      for (const listener of warn) process.on('warning', listener as (w: Error) => void);
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`finding 5: a main thread spinning in JavaScript dies by ${signal}, as without procstat, and leaves no mount`, async () => {
      const mnt = tempPath(`spin-${signal}`);
      const served = serve(['spin', mnt]);
      expect(await served.line).to.equal(`READY ${mnt}`);
      await sleep(300); // well into the loop
      served.child.kill(signal);
      expect(await served.exited).to.deep.equal({ code: null, signal });
      expect(await unmountedSoon(mnt)).to.equal(true);
    });
  }

  it('finding 8: mounted from a worker_thread; worker.terminate() neither aborts nor leaves the mount', async () => {
    const mnt = tempPath('worker');
    const served = serve(['worker', mnt]);
    expect(await served.exited, served.output()).to.deep.equal({ code: 0, signal: null });
    expect(served.output()).to.include('READ 42').and.include('DONE');
    expect(isMounted(mnt)).to.equal(false);
  });
});

describe('binding: structure at scale', function () {
  this.timeout(120_000);

  it('finding 6: 10,000 instances made in one tick are listed by a reader started right after', async () => {
    const mnt = await mountTemp(procstat);
    const made = Array.from({ length: 10_000 }, () => new Tiny());
    try {
      expect((await shOk(`ls ${mnt}/Tiny | wc -l`)).trim()).to.equal('10000');
      expect(await shOk(`cat ${mnt}/Tiny/$(ls ${mnt}/Tiny | tail -1)/n`)).to.equal('1\n');
    } finally {
      for (const obj of made) procstat.release(obj);
    }
    expect((await sh(`ls ${mnt}/Tiny | wc -l`)).stdout.trim()).to.equal('0');
  });

  it('finding 6: an instance made while mounted gets its directory node only when a reader opens it; released, it is gone at once', async () => {
    @StatDir({ name: 'binding-keyed', key: 'name' })
    class Keyed {
      @Counter() n: number;
      constructor(readonly name: string, n: number) { this.n = n; }
    }
    const mnt = await mountTemp(procstat);
    const made = Array.from({ length: 1000 }, () => new Tiny());
    made[500].n = 7;
    const nodesMade = () => instanceNodesMade('Tiny');
    try {
      expect((await shOk(`ls ${mnt}/Tiny | wc -l`)).trim()).to.equal('1000');
      expect(nodesMade(), 'listed, none opened').to.equal(0);
      const names = (await shOk(`ls -U ${mnt}/Tiny`)).split('\n').filter(Boolean);
      expect(await shOk(`cat ${mnt}/Tiny/${names[500]}/n`)).to.equal('7\n');
      expect(nodesMade(), 'one opened').to.equal(1);
      // Made by another view first (the Prometheus exposition walks every instance), then released: gone from the mount too.
      expect(procstat.metrics()).to.include('n_total');
      procstat.release(made[500]);
      procstat.release(made[501]);
      const left = (await shOk(`ls ${mnt}/Tiny`)).split('\n').filter(Boolean);
      expect(left).to.have.length(998).and.not.include(names[500]).and.not.include(names[501]);
      expect((await sh(`cat ${mnt}/Tiny/${names[501]}/n`)).stderr).to.include('No such file or directory');
      // A key taken again by a new instance: the name reads the new one.
      const first = new Keyed('same', 1);
      procstat.release(first);
      const second = new Keyed('same', 2);
      expect(await shOk(`cat ${mnt}/binding-keyed/same/n`)).to.equal('2\n');
      procstat.release(second);
    } finally {
      for (const obj of made) procstat.release(obj);
    }
  });

  it('finding 6: instances made before mount() are listed without a directory node each, until a reader opens one', async () => {
    @StatDir({ name: 'binding-before' })
    class Before {
      @Counter() n = 3;
    }
    const made = Array.from({ length: 500 }, () => new Before());
    try {
      const mnt = await mountTemp(procstat);
      expect((await shOk(`ls ${mnt}/binding-before | wc -l`)).trim()).to.equal('500');
      expect(instanceNodesMade('binding-before'), 'listed, none opened').to.equal(0);
      const first = (await shOk(`ls -U ${mnt}/binding-before | head -1`)).trim();
      expect(await shOk(`cat ${mnt}/binding-before/${first}/n`)).to.equal('3\n');
      expect(instanceNodesMade('binding-before'), 'one opened').to.equal(1);
    } finally {
      for (const obj of made) procstat.release(obj);
    }
  });

  it('finding 6: 150,000 directories under one parent and a tree 20,000 deep are served; removing them overflows no stack', async () => {
    const ctx = new Procstat();
    const wide = ctx.createDirectory(null, 'wide');
    for (let i = 0; i < 150_000; i++) ctx.createDirectory(wide, `d${i}`);
    let deep = ctx.createDirectory(null, 'deep');
    for (let i = 0; i < 20_000; i++) deep = ctx.createDirectory(deep, 'd');
    ctx.createValue(deep, 'bottom', () => 'reached');
    const mnt = await mountTemp(ctx);
    expect((await shOk(`ls ${mnt}/wide | wc -l`)).trim()).to.equal('150000');
    // Walk down one relative step at a time (a 20,000-deep path is longer than PATH_MAX, and
    // bash's logical `cd` re-walks the whole path on every step).
    const walk = await shOk(`${process.execPath} -e 'process.chdir(process.argv[1]); ` +
      `for (let i = 0; i < 20000; i++) process.chdir("d"); process.stdout.write(require("fs").readFileSync("bottom", "utf8"))' ${mnt}/deep`);
    expect(walk).to.equal('reached\n');
    // Growing it while mounted, then removing both trees.
    for (let i = 0; i < 1000; i++) deep = ctx.createDirectory(deep, 'd');
    ctx.removeByName(null, 'deep');
    ctx.removeByName(null, 'wide');
    expect((await shOk(`ls ${mnt}`)).split('\n').filter(Boolean)).to.deep.equal(['procstat']);
  });
});

describe('binding: values from a slow main thread', function () {
  this.timeout(30_000);

  it('finding 7: a getter slower than the deadline is readable (its late value is kept), and 8 concurrent cats call it once', async () => {
    const ctx = new Procstat();
    let calls = 0;
    ctx.createValue(null, 'slow', () => {
      calls++;
      const end = Date.now() + 300; // three deadlines
      while (Date.now() < end) { /* a getter that blocks */ }
      return calls;
    });
    const mnt = await mountTemp(ctx);
    const first = await sh(`cat ${mnt}/slow`);
    expect(first.stderr, 'nothing served before: EAGAIN').to.match(/Resource temporarily unavailable/);
    await sleep(100);
    expect(await shOk(`cat ${mnt}/slow`), 'the first call\'s late answer').to.equal('1\n');
    await sleep(100);
    calls = 0;
    const many = await sh(`for i in 1 2 3 4 5 6 7 8; do cat ${mnt}/slow & done; wait`);
    await sleep(400);
    expect(calls, 'one call shared by every open that waits for it').to.equal(1);
    expect(many.stdout.split('\n').filter(Boolean)).to.have.length(8);
  });
});
