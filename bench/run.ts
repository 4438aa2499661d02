// npm run bench [-- --quick] [-- --only grep,cat,…]: every figure against its baseline measured in
// the same run. Nanosecond-scale figures run in fresh processes, alternated, and report medians: in
// one process the machine code of a loop depends on what ran before it. Mount figures run servers
// and readers in child processes (a process must never read its own mount synchronously: the read
// would wait for its own main thread); this process only starts them and times them, asynchronously.
import { execFileSync, spawn, ChildProcess } from 'child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { monitorEventLoopDelay } from 'perf_hooks';
import { Counter, Procstat, procstat, StatDir } from '../src';
import { serveBare } from './bare-server';
import { listenHttp, loadChild, readerCost } from './reader-cost';
import { idleChild, idleFigures } from './idle';

const QUICK = process.argv.includes('--quick');
const RUNS = QUICK ? 3 : 7;
/** Fresh servers per side for the grep scans (each run: a first and a second scan of a new mount). */
const GREP_RUNS = QUICK ? 2 : 5;
/** `--only grep,cat,…` runs some sections: hot, instances, grep, eld, cat, list, churn, million, aggregator, release, recorder, cost, idle. */
const ONLY = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1].split(',') : null;
const section = (name: string) => !ONLY || ONLY.includes(name);

// ---------------------------------------------------------------- child modes

/** A class with `n` counters f0 … f(n-1), decorated by hand so that `n` can vary. */
function itemClass(n: number, name = 'Item'): new () => Record<string, number> {
  class Item {
    constructor() {
      for (let i = 0; i < n; i++) (this as any)[`f${i}`] = 0;
    }
  }
  for (let i = 0; i < n; i++) Counter(`f${i}`)(Item.prototype, `f${i}`);
  return StatDir({ name })(Item) as unknown as new () => Record<string, number>;
}

class PlainCounter { requests = 0; }

@StatDir()
class DecoratedCounter { @Counter() requests = 0; }

class Plain8 { a = 0; b = 0; c = 0; d = 0; e = 0; f = 0; g = 0; h = 0; }

@StatDir()
class Decorated8 {
  @Counter() a = 0; @Counter() b = 0; @Counter() c = 0; @Counter() d = 0;
  @Counter() e = 0; @Counter() f = 0; @Counter() g = 0; @Counter() h = 0;
}

function hotPath(kind: string): number {
  if (kind === 'prom') {
    const { Counter: PromCounter } = require('prom-client');
    const counter = new PromCounter({ name: 'requests', help: 'requests', labelNames: ['route'], registers: [] });
    const ops = 2_000_000;
    for (let i = 0; i < 100_000; i++) counter.labels('users').inc();
    const start = process.hrtime.bigint();
    for (let i = 0; i < ops; i++) counter.labels('users').inc();
    return Number(process.hrtime.bigint() - start) / ops;
  }
  const obj = kind === 'plain' ? new PlainCounter() : new DecoratedCounter();
  const ops = 200_000_000;
  for (let i = 0; i < 1_000_000; i++) obj.requests++;
  const start = process.hrtime.bigint();
  for (let i = 0; i < ops; i++) obj.requests++;
  const ns = Number(process.hrtime.bigint() - start) / ops;
  if (obj.requests < ops) throw new Error('unreachable');
  return ns;
}

function instances(kind: string): { ns: number; bytes: number } {
  const Make: new () => object = kind === 'plain' ? Plain8 : Decorated8;
  const count = 100_000;
  for (let i = 0; i < 1000; i++) procstat.release(new Make());
  global.gc!();
  const before = process.memoryUsage().heapUsed;
  const keep: object[] = new Array(count);
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) keep[i] = new Make();
  const ns = Number(process.hrtime.bigint() - start) / count;
  global.gc!();
  const bytes = (process.memoryUsage().heapUsed - before) / count;
  if (keep.length !== count) throw new Error('unreachable');
  return { ns, bytes };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    global.gc!();
  }
}

async function releaseAll(): Promise<{ before: number; after: number }> {
  const Make = itemClass(8, 'Released');
  // One smaller round first, so that code compiled for it is not counted as retained.
  for (const obj of Array.from({ length: 10_000 }, () => new Make())) procstat.release(obj);
  await settle();
  const before = process.memoryUsage().heapUsed;
  let objects: object[] | null = Array.from({ length: 100_000 }, () => new Make());
  for (const obj of objects) procstat.release(obj);
  objects = null;
  await settle();
  return { before, after: process.memoryUsage().heapUsed };
}

async function aggregator(kind: string): Promise<number> {
  if (kind === 'prom') {
    const { Gauge, Registry } = require('prom-client');
    const registry = new Registry();
    const gauge = new Gauge({ name: 'value', help: 'value', labelNames: ['id'], registers: [registry] });
    for (let i = 0; i < 100_000; i++) gauge.labels(String(i)).set(i);
    const start = process.hrtime.bigint();
    const text: string = await registry.metrics();
    if (text.length < 100_000) throw new Error('unreachable');
    return Number(process.hrtime.bigint() - start) / 1e6;
  }
  const ctx = new Procstat();
  for (let d = 0; d < 100; d++) {
    const dir = ctx.createDirectory(null, `d${d}`);
    for (let v = 0; v < 1000; v++) ctx.createValue(dir, `v${v}`, () => v);
  }
  ctx.createAggregator(null, 'all');
  const mnt = mkdtempSync(path.join(os.tmpdir(), 'procstat-bench-'));
  // The figure is how long the aggregator takes to produce its content, so the deadline is raised:
  // at the default 100 ms a first read slower than that answers EAGAIN (there is no last value yet).
  // The read is asynchronous: this process must never read its own mount synchronously.
  await ctx.mount(mnt, { deadlineMs: 60_000 });
  let text: string, ms: number;
  try {
    const start = process.hrtime.bigint();
    text = await require('fs').promises.readFile(`${mnt}/all`, 'utf8');
    ms = Number(process.hrtime.bigint() - start) / 1e6;
  } finally {
    await ctx.unmount();
  }
  if (text.split('\n').length < 100_000) throw new Error(`aggregator read ${text.length} bytes`);
  return ms;
}

// ---------------------------------------------------------------- mount servers and readers (children)

/**
 * A server for mount figures, /Item/<d>/f<i>: `procstat` (decorated instances), `flat` (the same
 * paths through the imperative API: createDirectory/createValue), `bare` (fuse-native) or `http`
 * (`procstat` plus a node:http server, its port in READY's JSON: bench/reader-cost.ts). Prints
 * `READY {memory}`, then on each stdin line the event-loop delay p99 (ms); unmounts when stdin ends.
 */
async function serve(kind: string, mnt: string, dirs: number, files: number): Promise<void> {
  global.gc!();
  const before = process.memoryUsage();
  const start = process.hrtime.bigint();
  let unmount: () => Promise<void>;
  if (kind === 'bare') {
    unmount = await serveBare(mnt, dirs, files);
  } else if (kind === 'flat') {
    const ctx = new Procstat();
    const item = ctx.createDirectory(null, 'Item');
    const counts = new Float64Array(dirs * files);
    for (let d = 0; d < dirs; d++) {
      const dir = ctx.createDirectory(item, String(d));
      for (let f = 0; f < files; f++) {
        const at = d * files + f;
        ctx.createValue(dir, `f${f}`, () => counts[at]);
      }
    }
    await ctx.mount(mnt);
    unmount = () => ctx.unmount();
  } else {
    const Item = itemClass(files);
    (globalThis as any).items = Array.from({ length: dirs }, () => new Item());
    // 'procstat' runs the stall recorder (the default), 'no-recorder' mounts without it.
    await procstat.mount(mnt, kind === 'no-recorder' ? { stallThresholdMs: 0 } : {});
    unmount = () => procstat.unmount();
  }
  const buildMs = Number(process.hrtime.bigint() - start) / 1e6;
  const port = kind === 'http' ? await listenHttp() : undefined;
  for (let i = 0; i < 3; i++) { await sleep(50); global.gc!(); }
  const after = process.memoryUsage();
  const delay = monitorEventLoopDelay({ resolution: 1 });
  // Its 1 ms timer wakes the main thread 1,000 times a second: not in the app whose main-thread CPU the cost section measures.
  if (kind !== 'http') delay.enable();
  const keepAlive = setInterval(() => undefined, 1000);
  process.stdin.on('data', () => {
    console.log(JSON.stringify({ p99: delay.percentile(99) / 1e6 }));
    delay.reset();
  });
  process.stdin.on('end', async () => {
    clearInterval(keepAlive);
    try { await unmount(); } catch (err) { console.error(`${kind} server: unmount failed: ${err}`); }
    process.exit(0);
  });
  console.log(`READY ${JSON.stringify({ rss: after.rss - before.rss, heap: after.heapUsed - before.heapUsed, buildMs, port })}`);
}

/** A reader process: `count` times open+read+close of `file` (and readdir of `dir`, if given); µs each, warm-up dropped. */
function reads(file: string, dir: string, count: number): { cat: number[]; ls: number[] } {
  const cat: number[] = [], ls: number[] = [];
  const warm = 5;
  for (let i = 0; i < count + warm; i++) {
    let start = process.hrtime.bigint();
    const content = readFileSync(file);
    const catUs = Number(process.hrtime.bigint() - start) / 1e3;
    if (content.length === 0) throw new Error(`${file} read empty`);
    if (i >= warm) cat.push(catUs);
    if (dir !== '-') {
      start = process.hrtime.bigint();
      const names = readdirSync(dir);
      const lsUs = Number(process.hrtime.bigint() - start) / 1e3;
      if (names.length === 0) throw new Error(`${dir} listed empty`);
      if (i >= warm) ls.push(lsUs);
    }
  }
  return { cat, ls };
}

/** Runs `sh -c script` with "$1" = arg, asynchronously; its stdout. */
function shell(script: string, arg: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', script, 'sh', arg], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (chunk) => { out += chunk; });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`sh -c '${script}' ${arg} exited ${code}`))));
  });
}

/** 10,000 instances made in one tick, and a reader started right after: `ls <mnt>/Tiny | wc -l`. */
async function burst(mnt: string, count: number): Promise<{ count: number; ms: number }> {
  const Tiny = itemClass(1, 'Tiny');
  await procstat.mount(mnt);
  try {
    const keep: object[] = [];
    for (let i = 0; i < count; i++) keep.push(new Tiny());
    const start = process.hrtime.bigint();
    const listed = shell('ls "$1"/Tiny | wc -l', mnt);  // started in the same tick
    const out = await listed;
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (keep.length !== count) throw new Error('unreachable');
    return { count: Number(out.trim()), ms };
  } finally {
    await procstat.unmount();
  }
}

/**
 * Main-thread block per batch of 1,000 creates and per batch of 1,000 releases with 100,000 live
 * instances, mounted (the class directory listed by a reader first, so that the addon holds it) or not.
 * The first batch is a warm-up, returned apart: mounted, it runs the publishing code for the first
 * time (compiled meanwhile) with cold caches after the pause (11–14 ms here; later batches 2–5 ms).
 */
async function churn(mounted: boolean, mnt: string, batches: number): Promise<{ create: number[]; release: number[]; warmup: number[]; eldMax: number; listed: number }> {
  const Live = itemClass(4, 'Live');
  if (mounted) await procstat.mount(mnt);
  try {
    const live = Array.from({ length: 100_000 }, () => new Live());
    const listed = mounted ? Number((await shell('ls "$1"/Live | wc -l', mnt)).trim()) : live.length;
    await sleep(300);
    global.gc!();
    const create: number[] = [], release: number[] = [];
    const delay = monitorEventLoopDelay({ resolution: 1 });
    delay.enable();
    const warmup: number[] = [];
    for (let b = 0; b <= batches; b++) {
      let start = process.hrtime.bigint();
      const batch = Array.from({ length: 1000 }, () => new Live());
      (b === 0 ? warmup : create).push(Number(process.hrtime.bigint() - start) / 1e6);
      await sleep(120);  // lets deferred work (refresh rounds, invalidations) run, and counts it in eldMax
      start = process.hrtime.bigint();
      for (const obj of batch) procstat.release(obj);
      (b === 0 ? warmup : release).push(Number(process.hrtime.bigint() - start) / 1e6);
      await sleep(120);
      if (b === 0) delay.reset();
    }
    delay.disable();
    if (live.length !== 100_000) throw new Error('unreachable');
    return { create, release, warmup, eldMax: delay.max / 1e6, listed };
  } finally {
    if (mounted) await procstat.unmount();
  }
}

// ---------------------------------------------------------------- orchestration

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function child(args: string[]): any {
  return JSON.parse(execFileSync(process.execPath, ['--expose-gc', __filename, ...args], { maxBuffer: 64 << 20 }).toString().trim().split('\n').pop()!);
}

/** The same as child(), without blocking this process. */
function childAsync(args: string[]): Promise<any> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--expose-gc', __filename, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    proc.stdout!.on('data', (chunk) => { out += chunk; });
    proc.on('error', reject);
    proc.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`bench child ${args.join(' ')} exited ${code}`));
      try { resolve(JSON.parse(out.trim().split('\n').pop()!)); } catch (err) { reject(err); }
    });
  });
}

/** CPU time (user + system) of a process's main thread so far, from /proc (clock ticks of 10 ms). */
/** The main thread's time on a CPU, from the scheduler's own count (ns): utime+stime are sampled at clock ticks, ±100 ms over 10 s here. */
function mainThreadCpuMs(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Alternates fresh processes of each kind, `runs` times; the median of each. */
function alternated<T>(kinds: string[], args: (kind: string) => string[], pick: (result: T) => number): Record<string, number> {
  const results: Record<string, number[]> = Object.fromEntries(kinds.map((k) => [k, []]));
  for (let i = 0; i < RUNS; i++) for (const kind of kinds) results[kind].push(pick(child(args(kind)) as T));
  return Object.fromEntries(kinds.map((k) => [k, median(results[k])]));
}

// CPU wakers: on this machine an idle virtual CPU adds its wake-up latency to every FUSE round trip
// (5–8× on the C library), so two lowest-priority busy loops keep both CPUs awake during every mount
// figure, for procstat and its baseline alike.
let wakers: ChildProcess[] = [];

function startWakers(): void {
  wakers = [0, 1].map(() => spawn('nice', ['-n', '19', 'sh', '-c', 'while :; do :; done'], { stdio: 'ignore' }));
  console.log(`CPU wakers on: two \`nice -n 19 sh -c 'while :; do :; done'\` busy loops (pids ${wakers.map((w) => w.pid).join(', ')}) ` +
    'run during every mount figure below, for procstat and its baseline alike');
}

function stopWakers(): void {
  if (wakers.length === 0) return;
  for (const w of wakers) if (w.exitCode === null && w.signalCode === null) process.kill(w.pid!, 'SIGKILL');
  console.log(`CPU wakers off (killed pids ${wakers.map((w) => w.pid).join(', ')})`);
  wakers = [];
}
process.on('exit', stopWakers);

function mounted(mnt: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((line) => line.split(' ')[4] === mnt);
}

/** A mount left behind (its server hung or died): freed without touching it. */
function unstick(mnt: string): void {
  if (!mounted(mnt)) return;
  console.error(`!! ${mnt} is still mounted: /work/shared/tools/unstick`);
  try { execFileSync('/work/shared/tools/unstick', [mnt], { stdio: 'inherit' }); } catch (err) { console.error(`unstick ${mnt}: ${err}`); }
}

interface Server {
  mnt: string;
  process: ChildProcess;
  memory: { rss: number; heap: number; buildMs: number; port?: number };
  report(): Promise<number>;
  stop(): Promise<void>;
}

async function startServer(kind: string, dirs: number, files: number): Promise<Server> {
  const base = mkdtempSync(path.join(os.tmpdir(), 'procstat-bench-'));
  const mnt = path.join(base, 'mnt');
  const proc = spawn(process.execPath, ['--expose-gc', __filename, 'serve', kind, mnt, String(dirs), String(files)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let waiting: ((line: string | null) => void) | null = null;
  let buffer = '';
  let exited = false;
  proc.stdout!.on('data', (chunk) => {
    buffer += chunk;
    for (let i = buffer.indexOf('\n'); i >= 0; i = buffer.indexOf('\n')) {
      const line = buffer.slice(0, i);
      buffer = buffer.slice(i + 1);
      if (waiting) { const w = waiting; waiting = null; w(line); } else lines.push(line);
    }
  });
  const exit = new Promise<void>((resolve) => proc.on('exit', () => { exited = true; if (waiting) waiting(null); resolve(); }));
  const nextLine = () => new Promise<string | null>((resolve) => {
    const l = lines.shift();
    if (l !== undefined) resolve(l); else if (exited) resolve(null); else waiting = resolve;
  });
  const stop = async () => {
    if (!exited) {
      proc.stdin!.end();
      const timer = setTimeout(() => { if (!exited) { console.error(`!! ${kind} server ${proc.pid} did not exit: SIGKILL`); process.kill(proc.pid!, 'SIGKILL'); } }, 30_000);
      await exit;
      clearTimeout(timer);
    }
    unstick(mnt);
    rmSync(base, { recursive: true, force: true });
  };
  const ready = await nextLine();
  if (!ready || !ready.startsWith('READY')) { await stop(); throw new Error(`${kind} server did not start`); }
  return {
    mnt,
    process: proc,
    memory: JSON.parse(ready.slice('READY '.length)),
    async report() {
      proc.stdin!.write('report\n');
      return JSON.parse((await nextLine())!).p99;
    },
    stop,
  };
}

/** Starts a server, runs `body`, and stops the server whatever happens. */
async function withServer<T>(kind: string, dirs: number, files: number, body: (server: Server) => Promise<T>): Promise<T> {
  const server = await startServer(kind, dirs, files);
  try { return await body(server); } finally { await server.stop(); }
}

/** `grep -r . <mnt>` in a child process: its time (ms); checks that it printed every value (procstat's mount also has procstat/, two files). */
function timeGrep(mnt: string, expect: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const grep = spawn('grep', ['-r', '.', mnt], { stdio: ['ignore', 'pipe', 'inherit'] });
    let lines = 0;
    grep.stdout!.on('data', (chunk: Buffer) => { for (const byte of chunk) if (byte === 10) lines++; });
    grep.on('error', reject);
    grep.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      if (code !== 0 || lines < expect) reject(new Error(`grep -r ${mnt} exited ${code} after ${lines} lines, not ${expect}`));
      else resolve(ms);
    });
  });
}

interface Row {
  figure: string;
  measured: string;
  baseline: string;
  ratio: string;
  target: string;
  met: boolean;
}

const rows: Row[] = [];
function row(figure: string, measured: string, baseline: string, ratio: string, target: string, met: boolean): void {
  rows.push({ figure, measured, baseline, ratio, target, met });
  console.error(`  measured: ${figure}: ${measured} vs ${baseline} (${ratio}; ${target}: ${met ? 'met' : 'NOT met'})`);
}

const ms = (v: number) => v.toFixed(v < 10 ? 2 : 0);

async function mountFigures(): Promise<void> {
  if (section('cost')) {
    await readerCost({ quick: QUICK, script: __filename, startServer, row, mainThreadCpuMs, median, percentile, sleep, wakerPids: () => wakers.map((w) => w.pid!) });
  }

  if (section('grep')) {
    // Alternated fresh mounts: each run mounts a new server, scans it twice, unmounts.
    const first: Record<string, number[]> = { procstat: [], bare: [] }, second: Record<string, number[]> = { procstat: [], bare: [] };
    for (let i = 0; i < GREP_RUNS; i++) {
      for (const kind of i % 2 === 0 ? ['procstat', 'bare'] : ['bare', 'procstat']) {
        await withServer(kind, 1000, 10, async (server) => {
          first[kind].push(await timeGrep(server.mnt, 10_000));
          second[kind].push(await timeGrep(server.mnt, 10_000));
        });
      }
      console.error(`  grep run ${i + 1}/${GREP_RUNS}: procstat ${first.procstat[i].toFixed(0)} / ${second.procstat[i].toFixed(0)} ms, ` +
        `bare ${first.bare[i].toFixed(0)} / ${second.bare[i].toFixed(0)} ms (first / second scan)`);
    }
    for (const [label, times, target] of [['first', first, 0.2], ['second', second, 0.2]] as const) {
      const [o, b] = [median(times.procstat), median(times.bare)];
      row(`grep -r . over 10,000 files (1,000 dirs × 10), ${label} scan of a fresh mount (ms)`, o.toFixed(0), `${b.toFixed(0)} bare fuse-native`,
        `${(o / b).toFixed(2)}×`, `≤ ${target}×`, o / b <= target);
    }
  }

  if (section('eld')) {
    await withServer('procstat', 1000, 10, async (ours) => {
      const idle: number[] = [], busy: number[] = [];
      for (let i = 0; i < (QUICK ? 1 : 3); i++) {
        await ours.report();
        await sleep(2000);
        idle.push(await ours.report());
        const load = spawn('sh', ['-c', 'while :; do grep -r . "$1" > /dev/null; done', 'sh', ours.mnt], { stdio: 'ignore', detached: true });
        await sleep(2000);
        busy.push(await ours.report());
        process.kill(-load.pid!, 'SIGKILL');  // its own process group: the loop and its grep
        await new Promise((resolve) => (load.exitCode !== null || load.signalCode !== null ? resolve(null) : load.on('exit', resolve)));
      }
      const [eldBusy, eldIdle] = [median(busy), median(idle)];
      row('event-loop delay p99 while another process loops grep -r (ms)', eldBusy.toFixed(2), `${eldIdle.toFixed(2)} idle`,
        `+${(eldBusy - eldIdle).toFixed(2)} ms`, '≤ 5 ms', eldBusy <= 5);
    });
  }

  if (section('cat')) {
    // Sequential reads of one value by reader processes, in rounds alternating the two servers.
    const [rounds, perRound] = QUICK ? [6, 50] : [20, 50];
    const ours = await startServer('procstat', 1000, 10);
    try {
      const bare = await startServer('bare', 1000, 10);
      try {
        const lat: Record<string, number[]> = { procstat: [], bare: [] };
        const servers: Record<string, Server> = { procstat: ours, bare };
        for (let r = 0; r < rounds; r++) {
          for (const kind of r % 2 === 0 ? ['procstat', 'bare'] : ['bare', 'procstat']) {
            const result = await childAsync(['reads', `${servers[kind].mnt}/Item/500/f5`, '-', String(perRound)]);
            lat[kind].push(...result.cat);
          }
        }
        for (const [p, target] of [[50, 0.6], [99, 1.0]]) {
          const [o, b] = [percentile(lat.procstat, p), percentile(lat.bare, p)];
          row(`cat of one value (open+read+close), ${lat.procstat.length} reads each side, p${p} (µs)`, o.toFixed(0), `${b.toFixed(0)} bare fuse-native`,
            `${(o / b).toFixed(2)}×`, `≤ ${target.toFixed(2)}×`, o / b <= target);
        }
      } finally { await bare.stop(); }
    } finally { await ours.stop(); }
  }

  if (section('list')) {
    const results: Array<{ count: number; ms: number }> = [];
    for (let i = 0; i < (QUICK ? 1 : 3); i++) {
      const base = mkdtempSync(path.join(os.tmpdir(), 'procstat-bench-'));
      try { results.push(await childAsync(['burst', path.join(base, 'mnt'), '10000'])); } finally {
        unstick(path.join(base, 'mnt'));
        rmSync(base, { recursive: true, force: true });
      }
    }
    const all = results.every((r) => r.count === 10_000);
    row('10,000 instances made in one tick, then `ls <mnt>/Tiny` (lines counted) started at once', results.map((r) => r.count).join(', '),
      '10000 made', `${all ? 'yes' : 'no'} (ls took ${results.map((r) => r.ms.toFixed(0)).join(', ')} ms)`, 'all listed', all);
  }

  if (section('churn')) {
    const batches = QUICK ? 8 : 20;
    const runs = QUICK ? 1 : 3;
    const got: Record<string, { create: number[]; release: number[]; warmup: string[]; eldMax: number[] }> = {
      mounted: { create: [], release: [], warmup: [], eldMax: [] }, unmounted: { create: [], release: [], warmup: [], eldMax: [] },
    };
    for (let i = 0; i < runs; i++) {
      for (const kind of i % 2 === 0 ? ['mounted', 'unmounted'] : ['unmounted', 'mounted']) {
        const base = mkdtempSync(path.join(os.tmpdir(), 'procstat-bench-'));
        try {
          const r = await childAsync(['churn', kind, path.join(base, 'mnt'), String(batches)]);
          if (r.listed !== 100_000) throw new Error(`ls of the class directory showed ${r.listed} of 100,000 instances`);
          got[kind].create.push(...r.create); got[kind].release.push(...r.release); got[kind].eldMax.push(r.eldMax);
          got[kind].warmup.push(r.warmup.map(ms).join('/'));
        } finally {
          unstick(path.join(base, 'mnt'));
          rmSync(base, { recursive: true, force: true });
        }
      }
    }
    for (const op of ['create', 'release'] as const) {
      const [m, u] = [got.mounted[op], got.unmounted[op]];
      const max = Math.max(...m);
      row(`${op} 1,000 instances beside 100,000 live, main-thread block per batch, median / max (ms)`,
        `${ms(median(m))} / ${ms(max)}`, `${ms(median(u))} / ${ms(Math.max(...u))} unmounted`,
        `${(median(m) / median(u)).toFixed(2)}× median`, '≤ 5 ms each', max <= 5);
    }
    const over = (list: number[]) => `${list.filter((t) => t > 5).length} of ${list.length}`;
    console.log(`churn: batches over 5 ms: mounted create ${over(got.mounted.create)}, release ${over(got.mounted.release)}; ` +
      `unmounted create ${over(got.unmounted.create)}, release ${over(got.unmounted.release)}`);
    console.log(`churn: largest event-loop delay over each run (batches and the 120 ms pauses between them): mounted ` +
      `${got.mounted.eldMax.map(ms).join(', ')} ms, unmounted ${got.unmounted.eldMax.map(ms).join(', ')} ms`);
    console.log(`churn: each run's warm-up batch, not counted (create/release, ms): mounted ${got.mounted.warmup.join(', ')}, ` +
      `unmounted ${got.unmounted.warmup.join(', ')}`);
  }

  if (section('million')) {
    const [dirs, rounds, perRound] = QUICK ? [100_000, 4, 40] : [100_000, 10, 50];
    const big = await startServer('flat', dirs, 10);
    try {
      const small = await startServer('flat', 100, 10);
      try {
        const servers: Record<string, Server> = { big, small };
        const lat: Record<string, { cat: number[]; ls: number[] }> = { big: { cat: [], ls: [] }, small: { cat: [], ls: [] } };
        for (let r = 0; r < rounds; r++) {
          for (const kind of r % 2 === 0 ? ['big', 'small'] : ['small', 'big']) {
            const d = kind === 'big' ? dirs / 2 : 50;
            const result = await childAsync(['reads', `${servers[kind].mnt}/Item/${d}/f5`, `${servers[kind].mnt}/Item/${d}`, String(perRound)]);
            lat[kind].cat.push(...result.cat); lat[kind].ls.push(...result.ls);
          }
        }
        for (const [op, what] of [['ls', 'ls (readdir) of one directory of 10'], ['cat', 'cat of one value']] as const) {
          const [b, s] = [median(lat.big[op]), median(lat.small[op])];
          row(`${what} with ${(dirs * 10).toLocaleString('en-US')} value files mounted, median (µs)`, b.toFixed(0), `${s.toFixed(0)} with 1,000 files`,
            `${(b / s).toFixed(2)}×`, '≤ 1.10× (as fast)', b / s <= 1.1);
        }
        const files = dirs * 10;
        row(`memory per value file, ${files.toLocaleString('en-US')} files mounted (bytes; RSS includes the C table)`,
          `${(big.memory.rss / files).toFixed(0)} RSS`, `${(big.memory.heap / files).toFixed(0)} of it JS heap`, '—', 'printed (no target)', true);
        console.log(`million: building and mounting ${files.toLocaleString('en-US')} files took ${(big.memory.buildMs / 1000).toFixed(1)} s; ` +
          `RSS +${(big.memory.rss / 1e6).toFixed(0)} MB, heap +${(big.memory.heap / 1e6).toFixed(0)} MB`);
      } finally { await small.stop(); }
    } finally { await big.stop(); }
  }

  if (section('recorder')) {
    // The stall recorder on (default) against off, side by side: cat latency in alternated rounds,
    // then the servers' main-thread CPU over the same idle seconds.
    const [rounds, perRound, idleMs] = QUICK ? [6, 50, 5000] : [20, 50, 10_000];
    const on = await startServer('procstat', 1000, 10);
    try {
      const off = await startServer('no-recorder', 1000, 10);
      try {
        const servers: Record<string, Server> = { on, off };
        const lat: Record<string, number[]> = { on: [], off: [] };
        for (let r = 0; r < rounds; r++) {
          for (const kind of r % 2 === 0 ? ['on', 'off'] : ['off', 'on']) {
            lat[kind].push(...(await childAsync(['reads', `${servers[kind].mnt}/Item/500/f5`, '-', String(perRound)])).cat);
          }
        }
        for (const p of [50, 99]) {
          const [o, b] = [percentile(lat.on, p), percentile(lat.off, p)];
          row(`cat of one value with the stall recorder on, ${lat.on.length} reads each, p${p} (µs)`, o.toFixed(0), `${b.toFixed(0)} recorder off`,
            `${(o / b).toFixed(2)}×`, '≤ 1.10× (unchanged)', o / b <= 1.10);
        }
        // Windows of 1 s, medians scaled to the whole: a window where the host stalls one side is left out.
        const windows: Record<string, number[]> = { on: [], off: [] };
        for (let w = 0; w < idleMs / 1000; w++) {
          const before = { on: mainThreadCpuMs(on.process.pid!), off: mainThreadCpuMs(off.process.pid!) };
          await sleep(1000);
          windows.on.push(mainThreadCpuMs(on.process.pid!) - before.on);
          windows.off.push(mainThreadCpuMs(off.process.pid!) - before.off);
        }
        const cpu = { on: median(windows.on) * idleMs / 1000, off: median(windows.off) * idleMs / 1000 };
        row(`main-thread CPU of an idle mounted service over ${idleMs / 1000} s, recorder on (ms; median second × ${idleMs / 1000})`,
          cpu.on.toFixed(0), `${cpu.off.toFixed(0)} recorder off`,
          `${(cpu.on - cpu.off) >= 0 ? '+' : ''}${(cpu.on - cpu.off).toFixed(0)} ms`, '≤ +10 ms (unchanged)', cpu.on - cpu.off <= 10);
      } finally { await off.stop(); }
    } finally { await on.stop(); }
  }

  if (section('aggregator')) {
    const agg: Record<string, number[]> = { procstat: [], prom: [] };
    for (let i = 0; i < RUNS; i++) for (const kind of ['procstat', 'prom']) agg[kind].push(await childAsync(['aggregator', kind]));
    const [o, p] = [median(agg.procstat), median(agg.prom)];
    row('one read of an aggregator over 100,000 values (ms)', o.toFixed(0), `${p.toFixed(0)} prom-client metrics()`,
      `${(o / p).toFixed(2)}×`, '< 1 and ≤ 250 ms', o < p && o <= 250);
  }
}

async function orchestrate(): Promise<void> {
  console.log(`procstat bench${QUICK ? ' --quick' : ''}: ${os.cpus().length} cores, Node ${process.version}, ` +
    `medians of ${RUNS} runs (grep: ${GREP_RUNS} fresh mounts per side)\n`);

  if (section('hot')) {
  const hot = alternated<number>(['plain', 'decorated'], (k) => ['hot', k], (r) => r);
  row('obj.requests++ on a @Counter field (ns/op)', hot.decorated.toFixed(3), `${hot.plain.toFixed(3)} undecorated`,
    `${(hot.decorated / hot.plain).toFixed(2)}×`, '≤ 1.05×', hot.decorated / hot.plain <= 1.05);
  const prom = alternated<number>(['prom'], (k) => ['hot', k], (r) => r).prom;
  row('the same vs prom-client .labels(x).inc() (ns/op)', hot.decorated.toFixed(3), `${prom.toFixed(1)} prom-client`,
    `${(prom / hot.decorated).toFixed(0)}× faster`, '≥ 20× faster', prom / hot.decorated >= 20);
  }
  if (section('instances')) {
  const ns = alternated<{ ns: number }>(['plain', 'decorated'], (k) => ['instances', k], (r) => r.ns);
  const bytes = alternated<{ bytes: number }>(['plain', 'decorated'], (k) => ['instances', k], (r) => r.bytes);
  row('construct 100,000 @StatDir instances, 8 fields (ns each)', ns.decorated.toFixed(0), `${ns.plain.toFixed(0)} undecorated`,
    `+${((ns.decorated - ns.plain) / 1000).toFixed(2)} µs`, '≤ +1.5 µs', ns.decorated - ns.plain <= 1500);
  row('  heap per instance (bytes)', bytes.decorated.toFixed(0), `${bytes.plain.toFixed(0)} undecorated`,
    `+${(bytes.decorated - bytes.plain).toFixed(0)} B`, '≤ +250 B', bytes.decorated - bytes.plain <= 250);
  }

  if (['grep', 'eld', 'cat', 'list', 'churn', 'million', 'aggregator', 'recorder', 'cost'].some(section)) {
    startWakers();
    try { await mountFigures(); } finally { stopWakers(); }
  }

  if (section('release')) {
  const released = child(['release']) as { before: number; after: number };
  row('heap after releasing 100,000 instances + GC (MB)', (released.after / 1e6).toFixed(1), `${(released.before / 1e6).toFixed(1)} before`,
    `${(released.after / released.before).toFixed(3)}×`, '≤ 1.05×', released.after / released.before <= 1.05);
  }

  if (section('idle')) {
    await idleFigures(QUICK ? 1 : 3, async (order) => {
      const base = mkdtempSync(path.join(os.tmpdir(), 'procstat-bench-'));
      try { return await childAsync(['idle', order, path.join(base, 'mnt')]); } finally { unstick(path.join(base, 'mnt')); rmSync(base, { recursive: true, force: true }); }
    }, row);
  }

  console.log('');
  const widths = ['figure', 'measured', 'baseline', 'ratio', 'target'].map((k) => Math.max(k.length, ...rows.map((r) => String((r as any)[k]).length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  console.log(line(['figure', 'measured', 'baseline', 'ratio', 'target']) + ' met |');
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|-----|`);
  for (const r of rows) console.log(line([r.figure, r.measured, r.baseline, r.ratio, r.target]) + (r.met ? ' yes |' : ' NO  |'));
}

async function main(): Promise<void> {
  const [mode, ...args] = process.argv.slice(2).filter((a, i, all) => a !== '--quick' && a !== '--only' && all[i - 1] !== '--only');
  switch (mode) {
    case 'hot': return console.log(JSON.stringify(hotPath(args[0])));
    case 'instances': return console.log(JSON.stringify(instances(args[0])));
    case 'release': return console.log(JSON.stringify(await releaseAll()));
    case 'aggregator': return console.log(JSON.stringify(await aggregator(args[0])));
    case 'serve': return serve(args[0], args[1], Number(args[2]), Number(args[3]));
    case 'reads': return console.log(JSON.stringify(reads(args[0], args[1], Number(args[2]))));
    case 'burst': return console.log(JSON.stringify(await burst(args[0], Number(args[1]))));
    case 'load': return console.log(JSON.stringify(await loadChild(args, { mainThreadCpuMs, percentile })));
    case 'idle': return console.log(JSON.stringify(await idleChild(args[0], args[1])));
    case 'churn': return console.log(JSON.stringify(await churn(args[0] === 'mounted', args[1], Number(args[2]))));
    default: return orchestrate();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
