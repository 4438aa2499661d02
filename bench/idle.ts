// `npm run bench -- --only idle`: what being mounted costs an app that nobody reads.
// One child process makes 100,000 instances, each with an array field, a plain-object field and a
// @StatDir object in a field, and measures 5 s of idleness unmounted and 5 s mounted (the order
// alternates between runs): the main thread's CPU (the scheduler's own count, /proc/<pid>/task/<pid>/
// schedstat, first field) and the event-loop delay (p50, p99). Nobody reads the mount.
import { readFileSync } from 'fs';
import { monitorEventLoopDelay } from 'perf_hooks';
import { Counter, procstat, Stat, StatDir } from '../src';

const INSTANCES = 100_000;
const IDLE_MS = 5000;

@StatDir({ name: 'IdleStats' })
class IdleStats {
  @Counter() hits = 0;
}

@StatDir({ name: 'IdleItem' })
class IdleItem {
  @Counter() requests = 0;
  @Stat() workers = [1, 2, 3];
  @Stat() limits = { max: 5, min: 1 };
  @Stat() stats = new IdleStats();
}

interface Window { cpuPercent: number; p50: number; p99: number }

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function mainThreadCpuNs(): number {
  return Number(readFileSync(`/proc/${process.pid}/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]);
}

/** `IDLE_MS` of idleness: the main thread's share of one CPU (%) and the event-loop delay (ms). */
async function idleWindow(): Promise<Window> {
  for (let i = 0; i < 3; i++) { await sleep(100); global.gc!(); }
  await sleep(1000);
  const delay = monitorEventLoopDelay({ resolution: 1 });
  const [cpu0, t0] = [mainThreadCpuNs(), process.hrtime.bigint()];
  delay.enable();
  await sleep(IDLE_MS);
  delay.disable();
  const wall = Number(process.hrtime.bigint() - t0);
  return { cpuPercent: (mainThreadCpuNs() - cpu0) / wall * 100, p50: delay.percentile(50) / 1e6, p99: delay.percentile(99) / 1e6 };
}

/** The child: `order` is `mounted-first` or `unmounted-first`. */
export async function idleChild(order: string, mnt: string): Promise<{ mounted: Window; unmounted: Window }> {
  const items = Array.from({ length: INSTANCES }, () => new IdleItem());
  const result = {} as { mounted: Window; unmounted: Window };
  for (const side of order === 'mounted-first' ? ['mounted', 'unmounted'] as const : ['unmounted', 'mounted'] as const) {
    if (side === 'mounted') await procstat.mount(mnt);
    try {
      result[side] = await idleWindow();
    } finally {
      if (side === 'mounted') await procstat.unmount();
    }
  }
  if (items.length !== INSTANCES) throw new Error('unreachable');
  return result;
}

type RowFn = (figure: string, measured: string, baseline: string, ratio: string, target: string, met: boolean) => void;

/** Runs fresh children, alternating which side comes first; the median of each figure. */
export async function idleFigures(runs: number, run: (order: string) => Promise<{ mounted: Window; unmounted: Window }>, row: RowFn): Promise<void> {
  const got: Array<{ mounted: Window; unmounted: Window }> = [];
  for (let i = 0; i < runs; i++) {
    const r = await run(i % 2 === 0 ? 'unmounted-first' : 'mounted-first');
    got.push(r);
    console.error(`  idle run ${i + 1}/${runs}: CPU ${r.mounted.cpuPercent.toFixed(2)} % mounted, ${r.unmounted.cpuPercent.toFixed(2)} % unmounted; ` +
      `delay p50/p99 ${r.mounted.p50.toFixed(2)}/${r.mounted.p99.toFixed(2)} ms mounted, ${r.unmounted.p50.toFixed(2)}/${r.unmounted.p99.toFixed(2)} ms unmounted`);
  }
  const med = (side: 'mounted' | 'unmounted', key: keyof Window) => {
    const sorted = got.map((r) => r[side][key]).sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)];
  };
  const what = `${INSTANCES.toLocaleString('en-US')} idle instances with array and object fields, nobody reading, ${IDLE_MS / 1000} s`;
  const [cm, cu] = [med('mounted', 'cpuPercent'), med('unmounted', 'cpuPercent')];
  row(`main-thread CPU, ${what} (% of a CPU)`, cm.toFixed(2), `${cu.toFixed(2)} unmounted`,
    `${cm - cu >= 0 ? '+' : ''}${(cm - cu).toFixed(2)} pp`, '≤ +1 pp', cm - cu <= 1);
  for (const p of ['p50', 'p99'] as const) {
    const [m, u] = [med('mounted', p), med('unmounted', p)];
    row(`event-loop delay ${p}, the same (ms)`, m.toFixed(2), `${u.toFixed(2)} unmounted`,
      `${m - u >= 0 ? '+' : ''}${(m - u).toFixed(2)} ms`, '≤ +1 ms', m - u <= 1);
  }
}
