import type { Registry } from './registry';

/** What a `@StatDir` class registers its instances with: a context's registry. */
export interface InstanceContext {
  readonly registry: Registry;
}

/**
 * The context `@StatDir` classes register with when they name none: the global `procstat`, which
 * sets itself here when it is made. Kept in the runtime so that the decorators reach a context
 * without importing the mount layer (FUSE, worker threads, signal handling).
 */
let defaultContext: InstanceContext | undefined;

export function setDefaultContext(context: InstanceContext): void {
  defaultContext = context;
}

export function getDefaultContext(): InstanceContext {
  // Set when procstat's entry point loads, which every import of the package does first.
  return defaultContext!;
}
