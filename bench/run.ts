// npm run bench [-- --quick]: every figure against its baseline measured in the same run.
// Nanosecond-scale figures run in fresh processes, alternated, and report medians: in one process
// the machine code of a loop depends on what ran before it.
import { execFileSync, spawn, spawnSync, ChildProcess } from 'child_process';
import { mkdtempSync, readFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { monitorEventLoopDelay } from 'perf_hooks';
import { Counter, Procstat, procstat, StatDir } from '../src';
import { serveBare } from './bare-server';

const QUICK = process.argv.includes('--quick');
const RUNS = QUICK ? 3 : 7;
/** `--only grep,cat,…` runs some sections: hot, instances, grep, cat, aggregator, release. */
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
  await ctx.mount(mnt);
  const start = process.hrtime.bigint();
  const text = await require('fs').promises.readFile(`${mnt}/all`, 'utf8');
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  await ctx.unmount();
  if (text.split('\n').length < 100_000) throw new Error(`aggregator read ${text.length} bytes`);
  return ms;
}

/** A server for mount figures; prints READY, then on each stdin line the event-loop delay p99 (ms). */
async function serve(kind: string, mnt: string, dirs: number, files: number): Promise<void> {
  if (kind === 'bare') {
    await serveBare(mnt, dirs, files);
  } else {
    const Item = itemClass(files);
    (globalThis as any).items = Array.from({ length: dirs }, () => new Item());
    await procstat.mount(mnt);
  }
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const keepAlive = setInterval(() => undefined, 1000);
  process.stdin.on('data', () => {
    console.log(JSON.stringify({ p99: delay.percentile(99) / 1e6 }));
    delay.reset();
  });
  process.stdin.on('end', () => { clearInterval(keepAlive); process.exit(0); });
  console.log('READY');
}

// ---------------------------------------------------------------- orchestration

function child(args: string[]): any {
  return JSON.parse(execFileSync(process.execPath, ['--expose-gc', __filename, ...args]).toString().trim().split('\n').pop()!);
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

interface Server {
  mnt: string;
  process: ChildProcess;
  report(): Promise<number>;
  stop(): Promise<void>;
}

async function startServer(kind: string, dirs: number, files: number): Promise<Server> {
  const mnt = path.join(mkdtempSync(path.join(os.tmpdir(), 'procstat-bench-')), 'mnt');
  const proc = spawn(process.execPath, [__filename, 'serve', kind, mnt, String(dirs), String(files)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let waiting: ((line: string) => void) | null = null;
  let buffer = '';
  proc.stdout!.on('data', (chunk) => {
    buffer += chunk;
    for (let i = buffer.indexOf('\n'); i >= 0; i = buffer.indexOf('\n')) {
      const line = buffer.slice(0, i);
      buffer = buffer.slice(i + 1);
      if (waiting) { const w = waiting; waiting = null; w(line); } else lines.push(line);
    }
  });
  const nextLine = () => new Promise<string>((resolve) => { const l = lines.shift(); if (l !== undefined) resolve(l); else waiting = resolve; });
  if ((await nextLine()) !== 'READY') throw new Error(`${kind} server did not start`);
  return {
    mnt,
    process: proc,
    async report() {
      proc.stdin!.write('report\n');
      return JSON.parse(await nextLine()).p99;
    },
    async stop() {
      const exited = new Promise((resolve) => proc.on('exit', resolve));
      proc.stdin!.end();
      await exited;
    },
  };
}

function timeGrep(mnt: string): number {
  const start = process.hrtime.bigint();
  const result = spawnSync('grep', ['-r', '.', mnt], { stdio: ['ignore', 'ignore', 'ignore'] });
  if (result.status !== 0) throw new Error(`grep -r ${mnt} exited ${result.status}`);
  return Number(process.hrtime.bigint() - start) / 1e6;
}

function catLatencies(mnt: string, count: number, dirs: number, files: number, into: number[]): void {
  for (let i = 0; i < count; i++) {
    const file = `${mnt}/Item/${Math.floor(Math.random() * dirs)}/f${Math.floor(Math.random() * files)}`;
    const start = process.hrtime.bigint();
    readFileSync(file);
    into.push(Number(process.hrtime.bigint() - start) / 1e3);
  }
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
  console.error(`  measured: ${figure}`);
}

async function orchestrate(): Promise<void> {
  console.log(`procstat bench${QUICK ? ' --quick' : ''}: ${os.cpus().length} cores, Node ${process.version}, medians of ${RUNS} runs\n`);

  if (section('hot')) {
  const hot = alternated<number>(['plain', 'decorated'], (k) => ['hot', k], (r) => r);
  row('obj.requests++ on a @Counter field (ns/op)', hot.decorated.toFixed(3), `${hot.plain.toFixed(3)} undecorated`,
    (hot.decorated / hot.plain).toFixed(2), 'ratio ≤ 1.05', hot.decorated / hot.plain <= 1.05);
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

  if (section('grep')) {
    const [ours, bare] = [await startServer('procstat', 1000, 10), await startServer('bare', 1000, 10)];
    timeGrep(ours.mnt); timeGrep(bare.mnt);
    const times: Record<string, number[]> = { ours: [], bare: [] };
    for (let i = 0; i < RUNS; i++) { times.ours.push(timeGrep(ours.mnt)); times.bare.push(timeGrep(bare.mnt)); }
    const [o, b] = [median(times.ours), median(times.bare)];
    row('grep -r . over 10,000 files, 1,000 instances × 10 (ms)', o.toFixed(0), `${b.toFixed(0)} bare fuse-native`,
      (o / b).toFixed(2), '≤ 1.25', o / b <= 1.25);

    const idle: number[] = [], busy: number[] = [];
    for (let i = 0; i < (QUICK ? 1 : 3); i++) {
      await ours.report();
      await new Promise((resolve) => setTimeout(resolve, 2000));
      idle.push(await ours.report());
      const load = spawn('bash', ['-c', `while :; do grep -r . ${ours.mnt} > /dev/null; done`]);
      await new Promise((resolve) => setTimeout(resolve, 2000));
      busy.push(await ours.report());
      load.kill('SIGKILL');
    }
    const [eldBusy, eldIdle] = [median(busy), median(idle)];
    row('event-loop delay p99 while another process loops grep -r (ms)', eldBusy.toFixed(2), `${eldIdle.toFixed(2)} idle`,
      `+${(eldBusy - eldIdle).toFixed(2)} ms`, '≤ 5 ms', eldBusy <= 5);
    await ours.stop(); await bare.stop();
  }

  if (section('cat')) {
    const [ours, bare] = [await startServer('procstat', 1000, 100), await startServer('bare', 1000, 100)];
    const lat: Record<string, number[]> = { ours: [], bare: [] };
    catLatencies(ours.mnt, 200, 1000, 100, []); catLatencies(bare.mnt, 200, 1000, 100, []);
    for (let i = 0; i < (QUICK ? 5 : 20); i++) { catLatencies(ours.mnt, 100, 1000, 100, lat.ours); catLatencies(bare.mnt, 100, 1000, 100, lat.bare); }
    for (const p of [50, 99]) {
      const [o, b] = [percentile(lat.ours, p), percentile(lat.bare, p)];
      row(`cat of one value in 100,000 files, p${p} (µs)`, o.toFixed(0), `${b.toFixed(0)} bare fuse-native`, (o / b).toFixed(2), '≤ 1.25', o / b <= 1.25);
    }
    await ours.stop(); await bare.stop();
  }

  if (section('aggregator')) {
  const agg = alternated<number>(['procstat', 'prom'], (k) => ['aggregator', k], (r) => r);
  row('one read of an aggregator over 100,000 values (ms)', agg.procstat.toFixed(0), `${agg.prom.toFixed(0)} prom-client metrics()`,
    (agg.procstat / agg.prom).toFixed(2), '< 1 and ≤ 250 ms', agg.procstat < agg.prom && agg.procstat <= 250);
  }
  if (section('release')) {
  const released = child(['release']) as { before: number; after: number };
  row('heap after releasing 100,000 instances + GC (MB)', (released.after / 1e6).toFixed(1), `${(released.before / 1e6).toFixed(1)} before`,
    (released.after / released.before).toFixed(3), '≤ 1.05', released.after / released.before <= 1.05);
  }

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
    default: return orchestrate();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
