// The mount is served from its own thread: a blocked main thread never makes a reader wait longer
// than the deadline, the process can read its own mount synchronously, and every exit path is clean.
import { expect } from 'chai';
import { spawn } from 'child_process';
import { readdirSync, readFileSync } from 'fs';
import { DirNode } from '../src/runtime/nodes';
import { mountedWithLimit, tempPath, unmountedSoon } from './helpers/mounts';
import { serve } from './helpers/serve';
import { sh, shOk } from './helpers/shell';


/** Blocks this thread (the one that owns the tree) for `ms`. */
function block(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) { /* busy */ }
}

/**
 * Starts a bash script now, blocks the main thread for `ms`, then returns what the script printed.
 * The script runs while the main thread is blocked; `t CMD` prints CMD's output and its duration.
 */
async function whileBlocked(ms: number, script: string): Promise<string> {
  const child = spawn('bash', ['-c', `t() { local s=$(date +%s%N); "$@" 2>&1; echo "took $(( ($(date +%s%N) - s) / 1000000 ))"; }\nsleep 0.2\n${script}`]);
  let out = '';
  child.stdout.on('data', (chunk) => { out += chunk; });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  block(ms);
  await exited;
  return out;
}

function durations(out: string): number[] {
  return [...out.matchAll(/^took (\d+)$/gm)].map((m) => Number(m[1]));
}

describe('serving while the main thread is blocked', () => {
  let requests: number;
  const t = mountedWithLimit((ctx) => {
    requests = 7;
    // Alone in its directory, and before the others: a read produces the values of its directory
    // and of the directories after it too (values come in batches), never of those before it.
    ctx.createValue(ctx.createDirectory(null, 'quiet'), 'unread', () => 1);
    const http = ctx.createDirectory(null, 'http');
    ctx.createValue(http, 'requests', () => requests);
    ctx.createValue(http, 'never-read', () => 1);
  });

  it('ls, stat and cat answer in well under a second with the last known values; blocked_ms > 0', async () => {
    expect(await shOk(`cat ${t.mnt}/http/requests`)).to.equal('7\n');
    requests = 8; // not read again before the block: the stale value stays 7
    const out = await whileBlocked(2000, `
      t ls ${t.mnt}/http
      t stat -c %a ${t.mnt}/http/requests
      t cat ${t.mnt}/http/requests
      t cat ${t.mnt}/procstat/event_loop_blocked_ms
      t cat ${t.mnt}/procstat/stale_reads`);
    expect(out.split('\n').slice(0, 2)).to.deep.equal(['never-read', 'requests']);
    // The outputs of stat, cat requests, cat event_loop_blocked_ms and cat stale_reads, in order.
    const numbers = out.split('\n').filter((l) => /^\d+$/.test(l)).map(Number);
    expect(numbers.slice(0, 2), 'mode, then the last known value').to.deep.equal([444, 7]);
    expect(numbers[2], 'event_loop_blocked_ms').to.be.above(100);
    expect(numbers[3], 'stale_reads').to.be.at.least(1);
    for (const took of durations(out)) expect(took).to.be.below(1000);
    expect(await shOk(`cat ${t.mnt}/http/requests ${t.mnt}/procstat/event_loop_blocked_ms`)).to.equal('8\n0\n');
  });

  it('a value never read before is EAGAIN; a parameter write is EAGAIN and changes nothing', async () => {
    const out = await whileBlocked(1000, `
      t cat ${t.mnt}/quiet/unread
      t bash -c 'echo 9 > ${t.mnt}/limit'`);
    expect(out.match(/Resource temporarily unavailable/g)).to.have.length(2);
    for (const took of durations(out)) expect(took).to.be.below(1000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(t.limit).to.equal(5);
    expect(await shOk(`cat ${t.mnt}/limit ${t.mnt}/quiet/unread`)).to.equal('5\n1\n');
  });

  it('what the program added right before the block is listed during it (the addon puts it in its table, not the main thread)', async () => {
    expect(await shOk(`ls ${t.mnt}/http | xargs`)).to.equal('never-read requests\n');
    const added = t.ctx.createDirectory(t.ctx.lookup(null, 'http') as DirNode, 'added');
    for (let i = 0; i < 100; i++) t.ctx.createDirectory(added, `d${i}`);
    const out = await whileBlocked(1000, `
      ls ${t.mnt}/http | xargs
      ls ${t.mnt}/http/added | wc -l`);
    expect(out.split('\n').slice(0, 2)).to.deep.equal(['added never-read requests', '100']);
  });

  it('the process reads its own mount synchronously without hanging', async () => {
    expect(await shOk(`cat ${t.mnt}/http/requests`)).to.equal('7\n');
    const start = Date.now();
    expect(readdirSync(`${t.mnt}/http`).sort()).to.deep.equal(['never-read', 'requests']);
    expect(readFileSync(`${t.mnt}/http/requests`, 'utf8')).to.equal('7\n');
    let error: NodeJS.ErrnoException | undefined;
    try {
      readFileSync(`${t.mnt}/quiet/unread`);
    } catch (err) {
      error = err as NodeJS.ErrnoException;
    }
    expect(error?.code).to.equal('EAGAIN');
    expect(Date.now() - start).to.be.below(1000);
  });
});

describe('exit paths leave no mount, no abort, no core dump', () => {
  // 'held' exits while a reader holds a file of the mount open: the FUSE loop must still end.
  for (const [mode, expected] of [['finish', 0], ['exit3', 3], ['throw', 1], ['held', 0]] as const) {
    it(`${mode}: exit code ${expected}, mount removed`, async () => {
      const mnt = tempPath(mode);
      const served = serve([mode, mnt]);
      const { code, signal } = await served.exited;
      expect(served.output()).to.include('READY');
      expect(served.output()).to.not.match(/Assertion|open handles|core dumped/);
      expect({ code, signal }).to.deep.equal({ code: expected, signal: null });
      expect(await unmountedSoon(mnt)).to.equal(true);
    });
  }

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal}: the mount is removed`, async () => {
      const mnt = tempPath(signal);
      const served = serve(['stay', mnt]);
      await served.line;
      served.child.kill(signal);
      const result = await served.exited;
      expect(result.signal).to.equal(signal);
      expect(served.output()).to.not.match(/Assertion|open handles/);
      expect(await unmountedSoon(mnt)).to.equal(true);
    });
  }

  it('SIGKILL while a spawned child still runs: the mount goes, the child can still work', async () => {
    const mnt = tempPath('child');
    const served = serve(['child', mnt]);
    await served.line;
    const childPid = Number(served.output().match(/CHILD (\d+)/)![1]);
    try {
      served.child.kill('SIGKILL');
      await served.exited;
      expect(await unmountedSoon(mnt), 'the mount must not outlive the service').to.equal(true);
      expect((await sh(`kill -0 ${childPid} && echo alive`)).stdout).to.equal('alive\n');
    } finally {
      process.kill(childPid, 'SIGKILL');
    }
  });
});
