// Reliability and security: signals, fuzzed writes and names, load, permissions, stalls under load.
import { expect } from 'chai';
import { spawn } from 'child_process';
import fc from 'fast-check';
import { promises as fs } from 'fs';
import * as path from 'path';
import { Counter, Procstat, procstat, ProcstatError, StatDir } from '../src';
import { isValidName } from '../src/runtime/names';
import { parseValue } from '../src/runtime/parse';
import { leftoverMounts, mountedWithLimit, mountTemp, tempPath } from './helpers/mounts';
import { defaultPathEnv, serve } from './helpers/serve';
import { sh, shOk } from './helpers/shell';

describe('reliability: signals', () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal} without handlers: the mount is gone before the process, which dies by ${signal}`, async () => {
      const mnt = tempPath(signal);
      const served = serve(['stay', mnt]);
      expect(await served.line).to.equal(`READY ${mnt}`);
      served.child.kill(signal);
      expect(await served.exited).to.deep.equal({ code: null, signal });
      expect(leftoverMounts(), 'removed by procstat, not later by auto_unmount').to.not.include(mnt);
    });
  }

  it('SIGTERM with the program\'s own handler: the handler decides, and its exit code stays', async () => {
    const mnt = tempPath('handler');
    const served = serve(['handler', mnt]);
    expect(await served.line).to.equal(`READY ${mnt}`);
    served.child.kill('SIGTERM');
    expect(await served.exited).to.deep.equal({ code: 7, signal: null });
    expect(served.output()).to.include('HANDLED');
    expect(leftoverMounts()).to.not.include(mnt);
  });
});

describe('reliability: fuzzed input', () => {
  let label: string;
  const t = mountedWithLimit((ctx) => {
    label = 'start';
    ctx.createParameter(null, 'label', { get: () => label, set: (v: string) => { label = v; } });
  });

  function expected(bytes: Uint8Array, type: 'int' | 'string', old: unknown): { ok: boolean; value: unknown } {
    if (bytes.length > 4096) return { ok: false, value: old };
    try {
      // Bytes that are not UTF-8 are refused whole, never stored as U+FFFD.
      return { ok: true, value: parseValue(new TextDecoder('utf-8', { fatal: true }).decode(bytes), type) };
    } catch {
      return { ok: false, value: old };
    }
  }

  it('random bytes of 0 to 64 KiB: the value is the old one or the parsed new one; otherwise EINVAL', async () => {
    const bytes = fc.oneof(
      fc.uint8Array({ minLength: 0, maxLength: 64 * 1024 }),
      fc.uint8Array({ minLength: 0, maxLength: 16 }),
      fc.integer().map((n) => new Uint8Array(Buffer.from(`${n}\n`))),
      fc.string({ maxLength: 5000 }).map((s) => new Uint8Array(Buffer.from(s))),
    );
    await fc.assert(fc.asyncProperty(bytes, fc.constantFrom('limit', 'label'), async (data, file) => {
      const type = file === 'limit' ? 'int' : 'string';
      const old = file === 'limit' ? t.limit : label;
      const want = expected(data, type, old);
      const error = await fs.writeFile(`${t.mnt}/${file}`, data).then(() => undefined, (err) => err);
      const now = file === 'limit' ? t.limit : label;
      if (data.length === 0) return now === old && error === undefined; // nothing reaches procstat
      if (want.ok) return error === undefined && now === want.value;
      return error?.code === 'EINVAL' && now === old;
    }), { numRuns: 150 });
  });

  it('a write at an odd offset is EINVAL; consecutive pieces make one value, applied whole at close; concurrent writers each win whole', async () => {
    const handle = await fs.open(`${t.mnt}/limit`, 'r+');
    try {
      expect(await handle.write('7', 3).catch((err) => err.code)).to.equal('EINVAL');
      expect(t.limit).to.equal(5);
    } finally {
      await handle.close();
    }
    const pieces = await fs.open(`${t.mnt}/limit`, 'w');
    try {
      await pieces.write('1', 0);
      await pieces.write('2', 1);
      expect(t.limit, 'no prefix is applied').to.equal(5);
    } finally {
      await pieces.close();
    }
    expect(t.limit).to.equal(12);
    const values = Array.from({ length: 20 }, (_, i) => 100 + i);
    const results = await Promise.all(values.map((v) => fs.writeFile(`${t.mnt}/limit`, `${v}\n`).then(() => 'ok', (err) => err.code)));
    expect(results.every((r) => r === 'ok')).to.equal(true);
    expect(values).to.include(t.limit);
  });

  it('a child closing a descriptor it inherited applies no prefix: the writer\'s own close applies the value', async () => {
    // `sleep` inherits the subshell's descriptor and closes it between the two pieces.
    await shOk(`bash -c '(printf 3; sleep 0.2; printf 4) > ${t.mnt}/limit'`);
    expect(t.limit).to.equal(34);
  });

  it('random names are rejected with EINVAL or shown exactly, never outside the mount', async () => {
    const names = new Set<string>();
    fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 300 }), fc.constantFrom('..', '.', '../x', 'a/../../b', '/etc', 'ok-name')), (name) => {
      try {
        t.ctx.createValue(null, name, () => 1);
      } catch (err) {
        return err instanceof ProcstatError && (err.code === 'EINVAL' || (err.code === 'EEXIST' && names.has(name)));
      }
      names.add(name);
      return isValidName(name);
    }), { numRuns: 300 });
    const listed = (await fs.readdir(t.mnt)).filter((n) => !['limit', 'label', 'procstat'].includes(n));
    expect(listed.sort()).to.deep.equal([...names].sort());
  });

  it('random instance keys are sanitized into names inside their class directory', async () => {
    const ctx = new Procstat();
    @StatDir({ name: 'Fuzzed', key: (s: Keyed) => s.key, context: ctx })
    class Keyed {
      @Counter() hits = 1;
      constructor(readonly key: string) {}
    }
    const keys = fc.sample(fc.oneof(fc.string(), fc.constantFrom('..', '.', '', '../../etc', 'a/b')), 100);
    const objects = keys.map((k) => new Keyed(k));
    const root = await mountTemp(ctx);
    const names = await fs.readdir(`${root}/Fuzzed`);
    expect(names).to.have.length(objects.length);
    for (const name of names) expect(isValidName(name), name).to.equal(true);
    // grep -r, not a glob: a glob skips names that start with a dot.
    const hits = await shOk(`grep -rh . ${root}/Fuzzed | grep -c '^1$'`);
    expect(Number(hits)).to.equal(keys.length);
  });
});

describe('reliability: permissions', () => {
  async function defaultRootError(prepare: (root: string) => Promise<void>): Promise<string> {
    const { env, runtimeDir } = await defaultPathEnv();
    await prepare(path.join(runtimeDir, `procstat-${process.getuid!()}`));
    const served = serve(['stay'], env);
    const line = await served.line;
    served.child.kill('SIGKILL');
    await served.exited;
    return line;
  }

  it('a default mount root that is a symlink is refused', async () => {
    const line = await defaultRootError(async (root) => {
      await fs.mkdir(`${root}-elsewhere`);
      await fs.symlink(`${root}-elsewhere`, root);
    });
    expect(line).to.match(/^ERROR EPERM .*procstat-\d+ is a symlink; procstat will not mount below it/);
  });

  it('a default mount root owned by another user is refused', async () => {
    const line = await defaultRootError(async (root) => {
      await fs.mkdir(root, { mode: 0o700 });
      await fs.chown(root, 65534, 65534);
    });
    expect(line).to.match(/^ERROR EPERM .*procstat-\d+ is owned by uid 65534; procstat will not mount below it/);
  });

  it('allow_other is off by default, and asking for it warns', async () => {
    const ctx = new Procstat();
    const plain = await mountTemp(ctx);
    expect(await shOk(`findmnt -n -o OPTIONS ${plain}`)).to.not.include('allow_other');
    await ctx.unmount();
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const mnt = tempPath('other');
      await ctx.mount(mnt, { allowOther: true });
      await new Promise((resolve) => setImmediate(resolve));
      expect(await shOk(`findmnt -n -o OPTIONS ${mnt}`)).to.include('allow_other');
      expect(warnings.map((w) => w.message).join()).to.match(/allow_other: every user of this machine can read/);
    } finally {
      process.off('warning', onWarning);
      await ctx.unmount();
    }
  });
});

@StatDir({ name: 'Churn' })
class Churn {
  @Counter() c0 = 0;
  @Counter() c1 = 1;
  @Counter() c2 = 2;
}

async function settleHeap(): Promise<number> {
  for (let i = 0; i < 10; i++) {
    await new Promise((resolve) => setTimeout(resolve, 30));
    global.gc!();
  }
  return process.memoryUsage().heapUsed;
}

describe('reliability: load', () => {
  it('8 shell readers while 10,000 instances a second are created and released for 20 s', async function () {
    this.timeout(120_000);
    const mnt = await mountTemp(procstat);
    const logs = tempPath('load-logs');
    await fs.mkdir(logs);
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown) => rejections.push(reason);
    process.on('unhandledRejection', onRejection);
    const warm = Array.from({ length: 1000 }, () => new Churn());
    warm.forEach((obj) => procstat.release(obj));
    const heapBefore = await settleHeap();

    const readers = Array.from({ length: 8 }, (_, i) => spawn('bash', ['-c', i % 2 === 0
      ? `while :; do grep -r . ${mnt}/Churn > /dev/null 2>> ${logs}/err${i}; echo >> ${logs}/n${i}; done`
      : `while :; do cat ${mnt}/Churn/*/c1 > /dev/null 2>> ${logs}/err${i}; echo >> ${logs}/n${i}; done`]));
    let live: Churn[] = [];
    let churned = 0;
    const end = Date.now() + 20_000;
    while (Date.now() < end) {
      for (const obj of live) procstat.release(obj);
      live = Array.from({ length: 1000 }, () => new Churn());
      churned += 1000;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    for (const reader of readers) reader.kill('SIGKILL');
    await Promise.all(readers.map((r) => new Promise((resolve) => (r.exitCode !== null ? resolve(null) : r.on('exit', resolve)))));
    for (const obj of live) procstat.release(obj);
    live = [];
    const heapAfter = await settleHeap();
    process.off('unhandledRejection', onRejection);

    const reads = Number((await shOk(`cat ${logs}/n* | wc -l`)).trim());
    const errors = (await sh(`cat ${logs}/err* | sed -E 's/.*: //' | sort | uniq -c`)).stdout.trim();
    console.log(`      load: ${reads} reader passes (grep -r / cat), ${churned} instances created and released, ` +
      `errors by kind: ${errors.replace(/\s+/g, ' ') || 'none'}; heap ${(heapBefore / 1e6).toFixed(1)} MB before, ${(heapAfter / 1e6).toFixed(1)} MB after`);
    expect(reads).to.be.above(16);
    const kinds = errors.split('\n').filter(Boolean).map((line) => line.replace(/^\s*\d+\s+/, ''));
    for (const kind of kinds) expect(kind, 'only vanished items may fail').to.equal('No such file or directory');
    expect(rejections).to.deep.equal([]);
    expect(leftoverMounts()).to.include(mnt);
    expect(heapAfter, 'heap back to its baseline').to.be.below(heapBefore * 1.1 + 1e6);
  });
});

describe('reliability: stalls under load', () => {
  it('while the main thread is blocked 10 s, 8 readers never wait past the deadline and stop on Ctrl-C', async function () {
    this.timeout(60_000);
    const ctx = new Procstat();
    let value = 1;
    const dir = ctx.createDirectory(null, 'values');
    for (let i = 0; i < 8; i++) ctx.createValue(dir, `v${i}`, () => value);
    const mnt = await mountTemp(ctx);
    await shOk(`grep -r . ${mnt}/values`); // every value known once
    const logs = tempPath('stall-logs');
    await fs.mkdir(logs);
    value = 2;
    // Each reader is its own process group, as a shell job is: Ctrl-C (SIGINT to the group) stops it.
    const readers = Array.from({ length: 8 }, (_, i) => spawn('bash', ['-c',
      // As at an interactive prompt, Ctrl-C ends the loop (a non-interactive loop would carry on).
      `trap 'exit 130' INT; while :; do s=$(date +%s%N); ${i % 2 === 0 ? `grep -r . ${mnt}/values` : `cat ${mnt}/values/v${i}`} > /dev/null 2>&1; ` +
      `echo $(( ($(date +%s%N) - s) / 1000000 )) >> ${logs}/t${i}; done`], { detached: true, stdio: 'ignore' }));
    const pids = readers.map((r) => r.pid).join(' ');
    // The main thread is about to be blocked: this controller presses Ctrl-C meanwhile.
    const controller = spawn('bash', ['-c', `
      sleep 6
      start=$(date +%s%N)
      # Ctrl-C, and Ctrl-C again a moment later: a non-interactive bash can lose a SIGINT that
      # lands while it forks, which has nothing to do with the mount.
      for p in ${pids}; do kill -INT -- -$p; done
      (sleep 0.2; for p in ${pids}; do kill -INT -- -$p 2>/dev/null; done) &
      # Stopped readers stay zombies until this (blocked) process reaps them: look at their state.
      alive() { for p in ${pids}; do s=$(cut -d' ' -f3 /proc/$p/stat 2>/dev/null); [ -n "$s" ] && [ "$s" != Z ] && return 0; done; return 1; }
      n=0; while alive && [ $n -lt 500 ]; do sleep 0.01; n=$((n + 1)); done
      echo "stopped_ms $(( ($(date +%s%N) - start) / 1000000 ))"`]);
    let out = '';
    controller.stdout.on('data', (chunk) => { out += chunk; });
    const done = new Promise((resolve) => controller.on('exit', resolve));
    // Blocked without burning a core (as in a synchronous wait), so the readers' timings are theirs.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10_000);
    await done;
    for (const reader of readers) if (reader.exitCode === null && reader.signalCode === null) process.kill(-reader.pid!, 'SIGKILL');
    const times = (await shOk(`cat ${logs}/t*`)).trim().split('\n').map(Number);
    const stoppedMs = Number(out.match(/stopped_ms (\d+)/)![1]);
    const sorted = [...times].sort((a, b) => a - b);
    console.log(`      stall: ${times.length} reader passes in 6 s (median ${sorted[sorted.length >> 1]} ms, ` +
      `slowest ${sorted[sorted.length - 1]} ms), readers stopped ${stoppedMs} ms after Ctrl-C`);
    expect(times.length).to.be.above(100);
    expect(Math.max(...times), 'no read waits much past the 100 ms deadline').to.be.below(500);
    expect(stoppedMs, 'Ctrl-C stops every reader at once').to.be.below(1000);
    value = 3;
    expect(await shOk(`cat ${mnt}/values/v0 ${mnt}/procstat/event_loop_blocked_ms`)).to.equal('3\n0\n');
  });
});
