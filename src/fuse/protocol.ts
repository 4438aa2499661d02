/**
 * Messages and shared memory between the main thread (which owns the tree) and the FUSE worker
 * (which owns the mount). The worker answers the structure from its mirror; only value reads and
 * parameter writes need the main thread, and those wait at most the read deadline.
 */

/** One directory entry: name, stable node id, directory or file, permission bits. */
export type Entry = [name: string, id: number, isDir: 0 | 1, mode: number];

export interface Listing {
  path: string;
  id: number;
  entries: Entry[];
}

export type ToWorker =
  | { t: 'sync'; epoch: number; listings: Listing[] }
  | { t: 'reply'; req: number; errno: number; content?: string; listings?: Listing[] }
  | { t: 'unmount' };

export type ToMain =
  | { t: 'list'; req: number; path: string }
  | { t: 'open'; req: number; path: string }
  | { t: 'write'; req: number; path: string; text: string; slot: number }
  | { t: 'mounted' }
  | { t: 'failed'; message: string; libfuse: boolean };

export interface WorkerData {
  mountpoint: string;
  fuseOptions: string;
  deadlineMs: number;
  shared: SharedArrayBuffer;
  /** The listings the mirror starts with, and the epoch they are current at. */
  initial: Listing[];
  epoch: number;
}

/** How often the main thread proves it is alive. */
export const HEARTBEAT_MS = 10;
/** Past this age of the last heartbeat the main thread counts as blocked. */
export const BLOCKED_AFTER_MS = 50;

// Shared memory: a Float64 heartbeat, then Int32 cells.
export const SHARED_BYTES = 8 + 4 * (3 + 1024);
export const EPOCH = 0; // bumped by the main thread on every structure change
export const EXITED = 1; // set by the worker once an unmount at process exit is done
export const WRITE_SLOTS = 3; // first of 1024 cells that settle who decides a write's fate
export const SLOT_COUNT = 1024;
export const SLOT_PENDING = 0, SLOT_TAKEN = 1, SLOT_CANCELLED = 2;

export function views(shared: SharedArrayBuffer): { heartbeat: Float64Array; cells: Int32Array } {
  return { heartbeat: new Float64Array(shared, 0, 1), cells: new Int32Array(shared, 8) };
}

/** Wall-clock milliseconds, comparable across threads. */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

// errno values as fuse-native wants them (negative).
export const Errno = {
  EPERM: -1, ENOENT: -2, EIO: -5, EBADF: -9, EAGAIN: -11, EACCES: -13, EEXIST: -17, ENOTDIR: -20, EISDIR: -21, EINVAL: -22,
} as const;
