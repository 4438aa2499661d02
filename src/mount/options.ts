import type { FuseMountOptions } from '../fuse/mount';
import { ProcstatError } from '../runtime/errors';

/** The options of `mount(path, options)`: the FUSE mount's, and the fallback's where FUSE cannot be used. */
export interface MountOptions extends FuseMountOptions {
  /** Where FUSE cannot be used, write the tree as ordinary files instead (see Procstat#mount). */
  fallback?: 'snapshot';
  /** How often the snapshot fallback rewrites the files (ms, default 1000). */
  snapshotIntervalMs?: number;
}

/**
 * The largest delay Node's timers take (2^31 - 1 ms, about 24.8 days): a longer one fires after
 * 1 ms instead, so a larger deadline or interval would quietly mean the opposite.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** The numeric options of `mount(path, options)`, each a number of milliseconds in [1, MAX_TIMER_MS]. */
const MILLISECOND_OPTIONS = ['deadlineMs', 'snapshotIntervalMs', 'stallThresholdMs', 'readBudgetMs'] as const;
/** Of those, the ones where 0 means "off". */
const ZERO_IS_OFF: readonly string[] = ['stallThresholdMs'];

function shown(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  return value === null ? 'null' : typeof value;
}

/**
 * Checks the options of `mount(path, options)` before anything is mounted: `deadlineMs`,
 * `snapshotIntervalMs` and `stallThresholdMs`, when given, must be numbers of milliseconds from 1
 * (0 for `stallThresholdMs`: off) to 2147483647 (not negative, NaN, Infinity, or of another type). Throws ProcstatError EINVAL naming the
 * option, the value and the allowed range. A pure function: it reads nothing else.
 */
export function validateMountOptions(options: unknown): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null) {
    throw new ProcstatError('EINVAL', `mount() options must be an object, not ${shown(options)}`);
  }
  const { fallback } = options as { fallback?: unknown };
  if (fallback !== undefined && fallback !== 'snapshot') {
    throw new ProcstatError('EINVAL', `mount() option fallback is ${shown(fallback)}; use 'snapshot', or leave it out for none`);
  }
  for (const name of MILLISECOND_OPTIONS) {
    const value = (options as Record<string, unknown>)[name];
    if (value === undefined) continue;
    const least = ZERO_IS_OFF.includes(name) ? 0 : 1;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < least || value > MAX_TIMER_MS) {
      throw new ProcstatError('EINVAL', `mount() option ${name} is ${shown(value)}; ` +
        `use a number of milliseconds from ${least} to ${MAX_TIMER_MS}${least === 0 ? ' (0: off)' : ''}, or leave it out for the default`);
    }
  }
}
