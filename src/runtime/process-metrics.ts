import { readdirSync, readFileSync } from 'fs';
import { constants, monitorEventLoopDelay, performance, PerformanceObserver } from 'perf_hooks';
import { CollectionDir, InstanceRegistry } from './instance-dir';
import type { StatsTree } from './tree';

const GC_KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

const DELAY_RESOLUTION_MS = 10;

function maxFds(): number {
  const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
  return line ? Number(line.split(/\s+/)[3]) : NaN;
}

function countBy(items: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1);
  return counts;
}

/**
 * `process/`: the usual process metrics, read when a file is read (nothing is sampled in between,
 * except event-loop delay and GC, which Node measures as they happen).
 */
export function addProcessMetrics(tree: StatsTree, registry: InstanceRegistry): void {
  const dir = tree.createDirectory(null, 'process');
  const value = (parent: typeof dir, name: string, get: () => unknown) => tree.createValue(parent, name, get);
  const counter = (parent: typeof dir, name: string, get: () => unknown) => tree.createValue(parent, name, get, { metric: 'counter' });

  value(dir, 'uptime_seconds', () => process.uptime());
  value(dir, 'start_time_seconds', () => Math.round((performance.timeOrigin) / 1000));
  counter(dir, 'cpu_user_seconds', () => process.cpuUsage().user / 1e6);
  counter(dir, 'cpu_system_seconds', () => process.cpuUsage().system / 1e6);
  value(dir, 'open_fds', () => readdirSync('/proc/self/fd').length);
  value(dir, 'max_fds', maxFds);
  value(dir, 'node_version', () => process.version);

  const memory = tree.createDirectory(dir, 'memory');
  value(memory, 'rss_bytes', () => process.memoryUsage.rss());
  for (const [name, key] of [['heap_used_bytes', 'heapUsed'], ['heap_total_bytes', 'heapTotal'],
    ['external_bytes', 'external'], ['array_buffers_bytes', 'arrayBuffers']] as const) {
    value(memory, name, () => process.memoryUsage()[key]);
  }

  const delay = monitorEventLoopDelay({ resolution: DELAY_RESOLUTION_MS });
  delay.enable();
  const loop = tree.createDirectory(dir, 'event_loop');
  // The histogram holds the time between samples; the delay is what exceeds the sampling interval.
  const seconds = (ns: number) => Math.max(0, ns / 1e6 - DELAY_RESOLUTION_MS) / 1000;
  value(loop, 'delay_min_seconds', () => seconds(delay.min));
  value(loop, 'delay_mean_seconds', () => seconds(delay.mean));
  value(loop, 'delay_max_seconds', () => seconds(delay.max));
  for (const p of [50, 90, 99]) value(loop, `delay_p${p}_seconds`, () => seconds(delay.percentile(p)));
  let lastUtilization = performance.eventLoopUtilization();
  value(loop, 'utilization', () => {
    // The share of time the loop was busy since this file was last read.
    const now = performance.eventLoopUtilization();
    const since = performance.eventLoopUtilization(now, lastUtilization);
    lastUtilization = now;
    return since.utilization;
  });

  const gc = new Map<string, { count: number; seconds: number }>(Object.values(GC_KINDS).map((k) => [k, { count: 0, seconds: 0 }]));
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const stats = gc.get(GC_KINDS[(entry as any).detail?.kind] ?? 'other');
      if (stats) {
        stats.count++;
        stats.seconds += entry.duration / 1000;
      }
    }
  }).observe({ entryTypes: ['gc'] });
  const gcDir = tree.createDirectory(dir, 'gc');
  for (const [kind, stats] of gc) {
    const kindDir = tree.createDirectory(gcDir, kind);
    counter(kindDir, 'collections', () => stats.count);
    counter(kindDir, 'seconds', () => stats.seconds);
  }

  // Handles and requests by type (Timeout, TCPSocketWrap, FSReqCallback …), as Node reports them.
  dir.add(new CollectionDir('active_resources', () => countBy(process.getActiveResourcesInfo()), registry));
}
