import type { StatsTree } from './stats-tree';

/**
 * The context `@StatDir` classes register with when they name none: the global `procstat`, which
 * sets itself here when it is made. Kept in the runtime so that the decorators reach a context
 * without importing the mount layer (FUSE, worker threads, signal handling).
 */
let defaultContext: StatsTree | undefined;

export function setDefaultContext(context: StatsTree): void {
  defaultContext = context;
}

export function getDefaultContext(): StatsTree {
  // Set when procstat's entry point loads, which every import of the package does first.
  return defaultContext!;
}
