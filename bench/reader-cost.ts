// npm run bench -- --only cost: what a reader of the mount costs the application's main
// thread. Today the main thread reads /dev/fuse and answers the kernel itself; the figures here are
// meant to be rerun unchanged once the addon's own threads answer the kernel and the main thread only
// computes values.
//
// Layout (the whole section): the application's main thread alone on CPU 1; everything else on CPU 0
// (this process and what it starts: the load generator, every grep, the second procstat server, and
// the application's other threads). The application is a 'http' server of run.ts: the 'procstat'
// tree (1,000 dirs × 10 values) mounted, plus a node:http server with a trivial handler.
//
// The load generator is autocannon, run in a child process through its API (not its CLI): the CLI
// reports latencies in whole milliseconds, too coarse for a +1 ms target, while its 'response'
// event gives each response time in fractions of a millisecond.
import { ChildProcess, execFileSync, spawn } from 'child_process';
import { readdirSync, readFileSync } from 'fs';
import * as http from 'http';

/** What run.ts lends this section. */
export interface Helpers {
  quick: boolean;
  /** run.js: child modes ('load') run through it. */
  script: string;
  startServer(kind: string, dirs: number, files: number): Promise<{
    mnt: string;
    process: ChildProcess;
    memory: { port?: number };
    stop(): Promise<void>;
  }>;
  row(figure: string, measured: string, baseline: string, ratio: string, target: string, met: boolean): void;
  mainThreadCpuMs(pid: number): number;
  median(values: number[]): number;
  percentile(values: number[], p: number): number;
  sleep(ms: number): Promise<unknown>;
  /** The CPU wakers' pids (one per CPU is pinned to it for this section). */
  wakerPids(): number[];
}

const APP_CPU = '1', OTHER_CPU = '0';
const VALUES = 10_000;
/** The steady load of figure (b): low enough that the main thread has room, so a scan's own cost shows. */
const STEADY_RATE = 2000;

// ---------------------------------------------------------------- child side

/** What each response serializes: a small JSON API's page of 100 records. */
const PAGE = Array.from({ length: 100 }, (_, i) => ({ id: i, name: `item ${i}`, price: i * 1.25, tags: ['a', 'b'], active: i % 2 === 0 }));

/**
 * The 'http' server kind's HTTP side on 127.0.0.1, resolving with its port. Each response is a JSON
 * page (tens of µs of the main thread's work, as an API's handler has): the main thread on its own
 * CPU, not autocannon on the shared one, is what bounds the requests served.
 */
export function listenHttp(): Promise<number> {
  const server = http.createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ page: PAGE, served: Date.now() }));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
}

export interface LoadResult {
  requests: number;
  wallMs: number;
  reqPerSec: number;
  p50: number;
  p99: number;
  /** The application's main thread on a CPU over the same window (ms). */
  busyMs: number;
  errors: number;
  non2xx: number;
}

/**
 * Child mode `load URL CONNECTIONS SECONDS RATE APP_PID`: autocannon against URL (RATE > 0: that many
 * requests a second in all; SECONDS 0: until stdin ends). Prints START when it starts; returns the
 * result, with the application's main-thread CPU read at its start and its end.
 */
export async function loadChild(args: string[], h: Pick<Helpers, 'mainThreadCpuMs' | 'percentile'>): Promise<LoadResult> {
  const [url, connections, seconds, rate, appPid] = [args[0], Number(args[1]), Number(args[2]), Number(args[3]), Number(args[4])];
  const autocannon = require('autocannon');
  const times: number[] = [];
  let non2xx = 0;
  const options: Record<string, unknown> = { url, connections, duration: seconds > 0 ? seconds : 600 };
  if (rate > 0) options.overallRate = rate;
  const cpuBefore = h.mainThreadCpuMs(appPid);
  const start = process.hrtime.bigint();
  const instance = autocannon(options);
  instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
    if (status >= 200 && status < 300) times.push(ms); else non2xx++;
  });
  if (seconds <= 0) {
    process.stdin.on('end', () => instance.stop());
    process.stdin.resume();
  }
  console.log('START');
  const result: { errors: number } = await new Promise((resolve) => instance.on('done', resolve));
  const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
  const busyMs = h.mainThreadCpuMs(appPid) - cpuBefore;
  process.stdin.destroy();
  return {
    requests: times.length, wallMs, reqPerSec: times.length / (wallMs / 1000),
    p50: h.percentile(times, 50), p99: h.percentile(times, 99), busyMs, errors: result.errors, non2xx,
  };
}

// ---------------------------------------------------------------- orchestration side

/** The CPUs a thread may run on, as /proc prints them ("0-1"). */
function cpusOf(pid: number, tid: number): string {
  return /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'))![1];
}

function threadsOf(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).map(Number);
}

function setCpus(tid: number, cpus: string): void {
  execFileSync('taskset', ['-p', '-c', cpus, String(tid)], { stdio: 'ignore' });
}

/** The application's main thread on APP_CPU, its other threads on OTHER_CPU; the layout as text. */
function pinApp(pid: number): string {
  for (const tid of threadsOf(pid)) setCpus(tid, tid === pid ? APP_CPU : OTHER_CPU);
  return threadsOf(pid).map((tid) => `${tid === pid ? 'main' : tid}:${cpusOf(pid, tid)}`).join(' ');
}

function pinAll(pid: number, cpus: string): void {
  for (const tid of threadsOf(pid)) setCpus(tid, cpus);
}

interface Scan {
  ms: number;
  /** When it ended (ns, hrtime). */
  end: bigint;
  lines: number;
  errors: number;
  code: number | null;
}

/** One `grep -r . <mnt>` in a child process (on this process's CPUs): its time, lines and error lines. */
function scan(mnt: string): Promise<Scan> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const grep = spawn('grep', ['-r', '.', mnt], { stdio: ['ignore', 'pipe', 'pipe'] });
    let lines = 0, errors = 0;
    grep.stdout!.on('data', (chunk: Buffer) => { for (const byte of chunk) if (byte === 10) lines++; });
    grep.stderr!.on('data', (chunk: Buffer) => { for (const byte of chunk) if (byte === 10) errors++; });
    grep.on('error', reject);
    grep.on('close', (code) => {
      const end = process.hrtime.bigint();
      resolve({ ms: Number(end - start) / 1e6, end, lines, errors, code });
    });
  });
}

const complete = (s: Scan) => s.code === 0 && s.lines >= VALUES && s.errors === 0;

/** A scan whose main-thread CPU (ms) is read around it, from schedstat. */
async function scanWithCpu(h: Helpers, pid: number, mnt: string): Promise<Scan & { cpuMs: number }> {
  const before = h.mainThreadCpuMs(pid);
  const s = await scan(mnt);
  return { ...s, cpuMs: h.mainThreadCpuMs(pid) - before };
}

/** `grep -r .` over `mnt` again and again until stop() (which waits for the scan under way). */
function readerLoop(mnt: string): { stop(): Promise<Scan[]> } {
  const scans: Scan[] = [];
  let stopping = false;
  const done = (async () => { while (!stopping) scans.push(await scan(mnt)); })();
  return { async stop() { stopping = true; await done; return scans; } };
}

/** The load child: `started` once autocannon runs (hrtime), `result` when it ends; end() ends an open-ended one. */
function startLoad(h: Helpers, url: string, seconds: number, rate: number, appPid: number) {
  const proc = spawn(process.execPath, [h.script, 'load', url, '10', String(seconds), String(rate), String(appPid)], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  let markStarted: (at: bigint) => void;
  const started = new Promise<bigint>((resolve) => { markStarted = resolve; });
  proc.stdout!.on('data', (chunk) => {
    out += chunk;
    if (out.includes('START\n')) markStarted(process.hrtime.bigint());
  });
  const result = new Promise<LoadResult & { ended: bigint }>((resolve, reject) => {
    proc.on('error', reject);
    proc.on('exit', (code) => {
      const ended = process.hrtime.bigint();
      if (code !== 0) return reject(new Error(`load child exited ${code} (is autocannon installed? it is a devDependency): ${out}`));
      try { resolve({ ...JSON.parse(out.trim().split('\n').pop()!), ended }); } catch (err) { reject(err); }
    });
  });
  result.catch(() => markStarted(0n));
  return { started, result, end: () => proc.stdin!.end(), kill: () => { if (proc.exitCode === null) proc.kill('SIGKILL'); } };
}

const f0 = (v: number) => v.toFixed(0);
const f2 = (v: number) => v.toFixed(2);
const list = (values: number[], digits = 0) => values.map((v) => v.toFixed(digits)).join(', ');

export async function readerCost(h: Helpers): Promise<void> {
  const scans = h.quick ? 3 : 5;
  const rounds = h.quick ? 2 : 5;
  const seconds = h.quick ? 4 : 6;
  // This process and all it starts on OTHER_CPU; one waker on each CPU (on APP_CPU it runs only when
  // the main thread sleeps: it keeps that CPU awake, as for every mount figure).
  const restore: Array<[number, string]> = [];
  for (const tid of threadsOf(process.pid)) restore.push([tid, cpusOf(process.pid, tid)]);
  pinAll(process.pid, OTHER_CPU);
  const wakers = h.wakerPids();
  wakers.forEach((pid, i) => { restore.push([pid, cpusOf(pid, pid)]); setCpus(pid, String(i % 2)); });
  try {
    const app = await h.startServer('http', 1000, 10);
    try {
      const other = await h.startServer('procstat', 1000, 10);
      try {
        const pid = app.process.pid!;
        const url = `http://127.0.0.1:${app.memory.port}/`;
        pinAll(other.process.pid!, OTHER_CPU);
        console.log(`cost: application ${pid} (threads on CPUs: ${pinApp(pid)}), second procstat server ${other.process.pid} on CPU ${OTHER_CPU}, ` +
          `this process, autocannon and every grep on CPU ${OTHER_CPU}; wakers ${wakers.join(', ')} on CPUs ${wakers.map((_, i) => i % 2).join(', ')}`);

        // (a) the application idle: the first scan of the fresh mount, then `scans` more.
        const first = await scanWithCpu(h, pid, app.mnt);
        const idle: Array<Scan & { cpuMs: number }> = [];
        for (let i = 0; i < scans; i++) idle.push(await scanWithCpu(h, pid, app.mnt));
        const idleAll = [first, ...idle];
        console.log(`cost (a) idle: main-thread CPU per scan ${list(idleAll.map((s) => s.cpuMs))} ms; scans took ${list(idleAll.map((s) => s.ms))} ms ` +
          `(first: a fresh mount)${idleAll.every(complete) ? '' : `; INCOMPLETE scans: ${idleAll.filter((s) => !complete(s)).map((s) => `${s.lines} lines, ${s.errors} errors, exit ${s.code}`).join('; ')}`}`);
        const idleMax = Math.max(...idleAll.map((s) => s.cpuMs));
        h.row(`main-thread CPU per grep -r . over 10,000 values, app idle, median of ${scans} scans / max with the first (ms)`,
          `${f0(h.median(idle.map((s) => s.cpuMs)))} / ${f0(idleMax)}`,
          `first scan ${f0(first.cpuMs)}; scans took ${f0(h.median(idleAll.map((s) => s.ms)))} ms median`,
          `${f0(100 * h.median(idle.map((s) => s.cpuMs / s.ms)))}% of scan time`, '≤ 50 ms each', idleMax <= 50 && idleAll.every(complete));

        // The second server's mount warmed as the application's was, and the HTTP code compiled.
        await scan(other.mnt);
        await (startLoad(h, url, 2, 0, pid).result);

        // (b) under a steady load: main-thread CPU around each scan, less what the load alone costs
        // over the same time (its rate measured in 1 s windows between the scans).
        pinApp(pid);
        const steady = startLoad(h, url, 0, STEADY_RATE, pid);
        const loaded: Array<Scan & { cpuMs: number }> = [], quiet: number[] = [];
        try {
          await steady.started;
          await h.sleep(1000);
          for (let i = 0; i < scans; i++) {
            const [c0, t0] = [h.mainThreadCpuMs(pid), process.hrtime.bigint()];
            await h.sleep(1000);
            quiet.push((h.mainThreadCpuMs(pid) - c0) / (Number(process.hrtime.bigint() - t0) / 1e6));
            loaded.push(await scanWithCpu(h, pid, app.mnt));
          }
        } finally { steady.end(); }
        const steadyResult = await steady.result;
        const share = h.median(quiet);
        const excess = loaded.map((s) => s.cpuMs - share * s.ms);
        const loadedMax = Math.max(...excess);
        console.log(`cost (b) under autocannon -c 10 -R ${STEADY_RATE} (got ${f0(steadyResult.reqPerSec)} req/s, p99 ${f2(steadyResult.p99)} ms): ` +
          `main thread ${list(quiet.map((q) => 100 * q))}% busy in the 1 s windows between scans; around each scan ${list(loaded.map((s) => s.cpuMs))} ms, ` +
          `less the load's share: ${list(excess)} ms; scans took ${list(loaded.map((s) => s.ms))} ms` +
          `${loaded.every(complete) ? '' : `; INCOMPLETE scans: ${loaded.filter((s) => !complete(s)).map((s) => `${s.lines} lines, ${s.errors} errors, exit ${s.code}`).join('; ')}`}`);
        h.row(`main-thread CPU per grep -r . over 10,000 values, app under autocannon -c 10 -R ${STEADY_RATE}, less the load's own share, median / max of ${scans} scans (ms)`,
          `${f0(h.median(excess))} / ${f0(loadedMax)}`,
          `load alone: ${f0(100 * share)}% busy; scans took ${f0(h.median(loaded.map((s) => s.ms)))} ms median`,
          '—', '≤ 50 ms each', loadedMax <= 50 && loaded.every(complete) && share < 0.8);

        // A/B: autocannon -c 10 at full rate while a reader loops grep -r . over (A) the application's
        // own mount, (B) the same tree mounted by the second server; alternated.
        type Case = { busy: number; rps: number; p99: number; p50: number; share: number; perRequestUs: number; scans: Scan[] };
        const cases: Record<string, Case[]> = { A: [], B: [] };
        for (let r = 0; r < rounds; r++) {
          for (const which of r % 2 === 0 ? ['A', 'B'] : ['B', 'A']) {
            pinApp(pid);
            const reader = readerLoop(which === 'A' ? app.mnt : other.mnt);
            let load: ReturnType<typeof startLoad> | undefined;
            try {
              await h.sleep(300);
              load = startLoad(h, url, seconds, 0, pid);
              const started = await load.started;
              const result = await load.result;
              const during = (await reader.stop()).filter((s) => s.end >= started && s.end <= result.ended);
              cases[which].push({
                busy: result.busyMs, rps: result.reqPerSec, p99: result.p99, p50: result.p50, share: result.busyMs / result.wallMs,
                perRequestUs: 1000 * result.busyMs / result.requests, scans: during,
              });
            } finally {
              load?.kill();
              await reader.stop();
            }
            const c = cases[which][cases[which].length - 1];
            console.error(`  cost round ${r + 1}/${rounds} ${which}: main thread busy ${f0(c.busy)} ms (${f0(100 * c.share)}%; ${f0(c.perRequestUs)} µs per request), ${f0(c.rps)} req/s, ` +
              `p50 ${f2(c.p50)} / p99 ${f2(c.p99)} ms; ${c.scans.length} scans ended during it (${list(c.scans.map((s) => s.ms))} ms)` +
              `${c.scans.every(complete) ? '' : `, ${c.scans.filter((s) => !complete(s)).length} incomplete`}`);
          }
        }
        const med = (which: string, pick: (c: Case) => number) => h.median(cases[which].map(pick));
        const [busyA, busyB] = [med('A', (c) => c.busy), med('B', (c) => c.busy)];
        const [rpsA, rpsB] = [med('A', (c) => c.rps), med('B', (c) => c.rps)];
        const [p99A, p99B] = [med('A', (c) => c.p99), med('B', (c) => c.p99)];
        const what = `autocannon -c 10 -d ${seconds}, another process looping grep -r . over the app's own mount (A) vs over a second server's (B), median of ${rounds}`;
        h.row(`app main-thread busy time, ${what} (ms)`, `${f0(busyA)} (${f0(100 * med('A', (c) => c.share))}%)`,
          `${f0(busyB)} (${f0(100 * med('B', (c) => c.share))}%) B`, `${(busyA / busyB).toFixed(2)}×`, '≤ 1.10×', busyA <= 1.1 * busyB);
        // Busy time follows the requests served too; per request it is the main thread's cost alone. With this
        // layout autocannon shares CPU 0 with the reader and whoever answers it (the second server in B, today
        // nobody in A: the main thread answers on CPU 1), so req/s and p99 can be the load generator's limit.
        const [perA, perB] = [med('A', (c) => c.perRequestUs), med('B', (c) => c.perRequestUs)];
        h.row(`  app main-thread CPU per request served, same runs (µs)`, f0(perA), `${f0(perB)} B`, `${(perA / perB).toFixed(2)}×`, 'printed (no target)', true);
        h.row(`  req/s, same runs`, f0(rpsA), `${f0(rpsB)} B`, `${(rpsA / rpsB).toFixed(2)}×`, '≥ 0.90×', rpsA >= 0.9 * rpsB);
        h.row(`  latency p99, same runs (ms)`, f2(p99A), `${f2(p99B)} B`, `${p99A - p99B >= 0 ? '+' : ''}${f2(p99A - p99B)} ms`, '≤ +1 ms', p99A <= p99B + 1);
        const scanText = (which: string) => {
          const all = cases[which].flatMap((c) => c.scans);
          const bad = all.filter((s) => !complete(s)).length;
          return `${cases[which].map((c) => c.scans.length).join('+')} scans, ${all.length ? f0(h.median(all.map((s) => s.ms))) : '—'} ms median${bad ? `, ${bad} incomplete` : ''}`;
        };
        h.row(`  grep -r . scans ended during those runs (count, median time)`, scanText('A'), `${scanText('B')} B`, '—', 'printed (no target)', true);
      } finally { await other.stop(); }
    } finally { await app.stop(); }
  } finally {
    for (const [tid, cpus] of restore) { try { setCpus(tid, cpus); } catch { /* a thread that ended */ } }
  }
}
