import { valueFile } from '../runtime/items';
import { DirNode } from '../runtime/nodes';
import { MountStatus } from './addon';

/**
 * The mount's own figures (procstat/event_loop_blocked_ms, stale_reads, stall/count,
 * stall/longest_ms) as a detached `procstat` directory, for the Prometheus view, in seconds as
 * Prometheus names want (procstat_stall_longest_seconds). On the mount the
 * addon answers these paths itself (it must: they matter most while the loop is blocked); they are
 * kept out of the tree so that aggregators and the snapshot fallback do not pick them up.
 */
export function statusDirectory(status: () => MountStatus): DirNode {
  const procstat = new DirNode('procstat');
  procstat.add(valueFile('event_loop_blocked', () => status().blockedMs / 1000,
    { metric: 'gauge', unit: 'seconds', help: 'how long the event loop has not answered (0 when it is healthy)' }));
  procstat.add(valueFile('stale_reads', () => status().staleReads,
    { metric: 'counter', help: 'reads answered at the deadline with the last content served (a read answered EAGAIN is not counted)' }));
  const stall = procstat.add(new DirNode('stall'));
  stall.add(valueFile('count', () => status().stalls, { metric: 'counter', help: 'stalls of the event loop past the threshold' }));
  stall.add(valueFile('longest', () => status().longestStallMs / 1000, { metric: 'gauge', unit: 'seconds', help: 'the longest stall of the event loop' }));
  return procstat;
}
