// Cost of a live @StatDir instance: construction time and retained heap, against the same class
// undecorated, each measured in a fresh process (node --expose-gc dist/bench/instances.js [kind]).
import { execFileSync } from 'child_process';
import { Counter, Gauge, Parameter, Series, Stat, StatDir } from '../src';

const COUNT = 100_000;

class Plain {
  a = 0; b = 0; c = 0; d = 0; e = 0; f = 0; g = 0; h = 0;
}

@StatDir()
class Decorated {
  @Counter() a = 0; @Counter() b = 0; @Counter() c = 0; @Gauge() d = 0;
  @Gauge() e = 0; @Parameter() f = 0; @Stat() g = 0; @Stat() h = 0;
}
void Series;

function measure(kind: string): { nsPerInstance: number; bytesPerInstance: number } {
  const Make: new () => object = kind === 'decorated' ? Decorated : Plain;
  for (let i = 0; i < 1000; i++) new Make(); // warm up
  global.gc!();
  const heapBefore = process.memoryUsage().heapUsed;
  const keep: object[] = new Array(COUNT);
  const start = process.hrtime.bigint();
  for (let i = 0; i < COUNT; i++) keep[i] = new Make();
  const ns = Number(process.hrtime.bigint() - start);
  global.gc!();
  const bytes = process.memoryUsage().heapUsed - heapBefore;
  if (keep.length !== COUNT) throw new Error('unreachable');
  return { nsPerInstance: ns / COUNT, bytesPerInstance: bytes / COUNT };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

if (process.argv[2]) {
  console.log(JSON.stringify(measure(process.argv[2])));
} else {
  const runs = 5;
  const results: Record<string, Array<{ nsPerInstance: number; bytesPerInstance: number }>> = { plain: [], decorated: [] };
  for (let i = 0; i < runs; i++) {
    for (const kind of ['plain', 'decorated']) {
      results[kind].push(JSON.parse(execFileSync(process.execPath, ['--expose-gc', __filename, kind]).toString()));
    }
  }
  const ns = (k: string) => median(results[k].map((r) => r.nsPerInstance));
  const bytes = (k: string) => median(results[k].map((r) => r.bytesPerInstance));
  console.log(`${COUNT} instances with 8 fields, median of ${runs} alternated fresh processes:`);
  console.log(`  construct: plain ${ns('plain').toFixed(0)} ns, decorated ${ns('decorated').toFixed(0)} ns, extra ${(ns('decorated') - ns('plain')).toFixed(0)} ns per instance`);
  console.log(`  heap:      plain ${bytes('plain').toFixed(0)} B, decorated ${bytes('decorated').toFixed(0)} B, extra ${(bytes('decorated') - bytes('plain')).toFixed(0)} B per instance`);
}
