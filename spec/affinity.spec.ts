// Answering readers of the mount never touches an application thread's CPU affinity. The application
// decides where its threads run (taskset, cgroup cpusets); a `grep -r` over its mount must leave every
// one of its threads (the main thread, the libuv pool, workers) where the application put it; only
// the addon's own threads (named procstat-*) may move themselves. Decisive, not a sampling race: every
// thread of the serving process is traced with `strace -f` for sched_setaffinity during the scans
// (readers on CPU 0, then CPU 1, then 0 …), and the affinities are also read from /proc before, during
// (every 10 ms) and after.
import { expect } from 'chai';
import { ChildProcess, spawn } from 'child_process';
import { readdirSync, readFileSync } from 'fs';
import { isMounted, tempPath, unmountedSoon } from './helpers/mounts';
import { serve, Served } from './helpers/serve';
import { sh } from './helpers/shell';

/** The addon's own threads (procstat-fuse, -timer, -notify): they may move themselves. */
function addonThreads(pid: number): Set<string> {
  const tids = new Set<string>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      if (readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').startsWith('procstat-')) tids.add(tid);
    } catch { /* a thread that ended meanwhile */ }
  }
  return tids;
}

/** Every application thread of `pid` and the CPUs it may run on, as /proc prints them ("0-1"); what `taskset -p` shows. */
function affinities(pid: number, own: Set<string>): Record<string, string> {
  const result: Record<string, string> = {};
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    if (own.has(tid)) continue;
    try {
      result[tid] = /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'))![1];
    } catch { /* a thread that ended meanwhile */ }
  }
  return result;
}

/** The threads whose affinity differs from `before` (a thread started since: from the main thread's). */
function changedFrom(before: Record<string, string>, now: Record<string, string>, pid: number): string[] {
  return Object.entries(now)
    .filter(([tid, cpus]) => cpus !== (before[tid] ?? before[String(pid)]))
    .map(([tid, cpus]) => `thread ${tid}${tid === String(pid) ? ' (main)' : ''}: ${before[tid] ?? '(new)'} → ${cpus}`);
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
}

describe('a reader of the mount leaves every application thread\'s CPU affinity alone', function () {
  this.timeout(60_000);
  let served: Served | undefined;
  let strace: ChildProcess | undefined;
  let mnt: string;

  afterEach(async () => {
    if (strace && strace.exitCode === null && strace.signalCode === null) {
      strace.kill('SIGINT');
      await exited(strace);
    }
    if (served && served.child.exitCode === null && served.child.signalCode === null) {
      served.child.kill('SIGTERM');  // procstat's own handler unmounts
      const timer = setTimeout(() => served!.child.kill('SIGKILL'), 5000);
      await exited(served.child);
      clearTimeout(timer);
    }
    if (mnt && !(await unmountedSoon(mnt))) await sh(`fusermount3 -uz ${mnt}`);
    served = strace = undefined;
  });

  it('no thread of a served app calls sched_setaffinity during grep -r scans, and none has another affinity before, during or after', async () => {
    if ((await sh('command -v strace')).code !== 0) throw new Error('strace is not installed: apt-get install strace (scripts/install.sh should)');
    mnt = tempPath('affinity');
    served = serve(['tree', mnt]);
    expect(await served.line, served.output()).to.match(/^READY /);
    const pid = served.child.pid!;
    const own = addonThreads(pid);
    expect(own.size, 'the addon names its threads procstat-*').to.be.at.least(3);
    const before = affinities(pid, own);

    // Every thread of the app, and any it starts, traced for one system call.
    const traceFile = tempPath('strace');
    strace = spawn('strace', ['-f', '-e', 'trace=sched_setaffinity', '-o', traceFile, '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let straceErr = '';
    const attached = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`strace did not attach within 10 s: ${straceErr}`)), 10_000);
      strace!.stderr!.on('data', (chunk) => {
        straceErr += chunk;
        const match = /Process \d+ attached(?: with (\d+) threads)?/.exec(straceErr);
        if (match) { clearTimeout(timer); resolve(Number(match[1] ?? 1)); }
      });
      strace!.once('exit', (code) => { clearTimeout(timer); reject(new Error(`strace exited ${code}: ${straceErr}`)); });
    });
    expect(attached, `strace attached to ${attached} threads of ${Object.keys(before).length}: ${straceErr}`).to.be.at.least(Object.keys(before).length + own.size);

    const changes = new Set<string>();
    const sampler = setInterval(() => { for (const change of changedFrom(before, affinities(pid, own), pid)) changes.add(change); }, 10);
    const scans: string[] = [];
    try {
      for (let i = 0; i < 4; i++) {
        const cpu = i % 2;
        const result = await sh(`taskset -c ${cpu} grep -r . ${mnt} | wc -l`);
        scans.push(`reader on CPU ${cpu}: ${result.stdout.trim()} lines${result.code ? `, exit ${result.code}: ${result.stderr}` : ''}`);
        expect(Number(result.stdout.trim()), scans.join('; ')).to.be.at.least(1000);
      }
    } finally {
      clearInterval(sampler);
    }
    const after = affinities(pid, own);
    strace.kill('SIGINT');
    await exited(strace);

    const calls = readFileSync(traceFile, 'utf8').split('\n')
      .filter((line) => /sched_setaffinity\(/.test(line) && !own.has(line.split(/\s+/)[0]));
    expect(calls.length, `the app's threads called sched_setaffinity ${calls.length} times during 4 grep -r scans of its mount ` +
      `(${scans.join('; ')}); the first: ${calls.slice(0, 4).map((c) => c.replace(/\s+/g, ' ')).join(' | ')}`).to.equal(0);
    expect([...changes], 'affinities seen changed during the scans').to.deep.equal([]);
    expect(changedFrom(before, after, pid), 'affinities changed after the scans').to.deep.equal([]);
    expect(isMounted(mnt)).to.equal(true);
  });
});
