import { execFile } from 'child_process';
import { constants, promises as fs } from 'fs';
import * as path from 'path';
import { Worker } from 'worker_threads';
import { ProcstatError } from '../runtime/errors';
import { EXITED, SHARED_BYTES, ToMain, views, WorkerData } from './protocol';
import { Publisher } from './publisher';
import { ServedTree } from './served-tree';

export interface MountOptions {
  /** Let other users read the mount (FUSE `allow_other`; needs `user_allow_other` in /etc/fuse.conf). */
  allowOther?: boolean;
  /** How long a value read or parameter write waits for a busy main thread (ms, default 100). */
  deadlineMs?: number;
  /** Where FUSE cannot be used, write the tree as ordinary files instead (see Procstat#mount). */
  fallback?: 'snapshot';
  /** How often the snapshot fallback rewrites the files (ms, default 1000). */
  snapshotIntervalMs?: number;
}

const DEFAULT_DEADLINE_MS = 100;
/** At process exit, how long to wait for the worker to unmount before letting the process go. */
const EXIT_UNMOUNT_MS = 2000;

/**
 * Mount options passed to libfuse. `direct_io` makes every read reach procstat (values are never
 * served from the page cache, and a file's size does not cut its content); zero timeouts make
 * removals visible at once. `auto_unmount` has fusermount remove the mount when the process dies,
 * even by SIGKILL. `big_writes` lets a write of up to 64 KiB arrive whole (not in 4 KiB pieces), so
 * an oversized value is refused before any part of it is applied.
 */
export function fuseOptions(options: MountOptions): string {
  const list = ['fsname=procstat', 'subtype=procstat', 'auto_unmount', 'direct_io', 'big_writes', 'max_write=65536',
    'entry_timeout=0', 'attr_timeout=0', 'negative_timeout=0'];
  if (options.allowOther) list.push('allow_other');
  return `-o${list.join(',')}`;
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => execFile(command, args, (err) => (err ? reject(err) : resolve())));
}

async function onPath(program: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && await fs.access(path.join(dir, program), constants.X_OK).then(() => true, () => false)) return true;
  }
  return false;
}

/** Checks what FUSE needs on this machine; each failure says how to fix it. */
async function checkFuse(): Promise<void> {
  if (!await fs.access('/dev/fuse', constants.R_OK | constants.W_OK).then(() => true, () => false)) {
    throw new ProcstatError('ENODEV', 'FUSE is not available: /dev/fuse is missing or not accessible. ' +
      'Load the module (modprobe fuse); in a container run with --device /dev/fuse --cap-add SYS_ADMIN');
  }
  if (!await onPath('fusermount')) {
    throw new ProcstatError('ENODEV', 'fusermount was not found on $PATH: install it (Debian/Ubuntu: apt-get install fuse)');
  }
}

function loadError(message: string, libfuse: boolean): ProcstatError {
  return new ProcstatError('ENODEV', libfuse
    ? 'libfuse.so.2 is missing: install it (Debian/Ubuntu: apt-get install libfuse2), then start the process again'
    : `fuse-native could not be loaded or mount (${message}); reinstall procstat with npm ci`);
}

/**
 * Makes `mountpoint` a usable empty directory: created if missing, a stale mount of a dead process
 * ("Transport endpoint is not connected") unmounted, a live mount or a non-directory refused.
 */
async function prepare(mountpoint: string): Promise<boolean> {
  let stat = await fs.stat(mountpoint).catch((err) => err as NodeJS.ErrnoException);
  if (stat instanceof Error && stat.code === 'ENOTCONN') {
    await run('fusermount', ['-uz', mountpoint]).catch(() => undefined);
    stat = await fs.stat(mountpoint).catch((err) => err as NodeJS.ErrnoException);
  }
  if (stat instanceof Error) {
    if (stat.code !== 'ENOENT') throw new ProcstatError('EINVAL', `cannot use ${mountpoint} as a mountpoint: ${stat.message}`);
    await fs.mkdir(mountpoint, { recursive: true });
    return true;
  }
  if (!stat.isDirectory()) {
    throw new ProcstatError('ENOTDIR', `${mountpoint} is not a directory; pass mount() a directory path (it is created if missing)`);
  }
  const parent = await fs.stat(path.dirname(mountpoint));
  if (parent.dev !== stat.dev) {
    throw new ProcstatError('EBUSY', `${mountpoint} is busy: something is already mounted there. ` +
      `Unmount it (fusermount -u ${mountpoint}) or choose another path`);
  }
  return false;
}

const live = new Set<FuseMount>();
const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

function unmountAllNow(): void {
  for (const mount of live) mount.unmountAtExit();
  live.clear();
}

/**
 * SIGINT/SIGTERM with no other listener would kill the process: take the mounts down first, then
 * let the signal do what it would have done without procstat. With another listener, the program
 * decides; if it exits, 'exit' takes the mounts down.
 */
function onSignal(signal: NodeJS.Signals): void {
  if (process.listenerCount(signal) > 1) return;
  unmountAllNow();
  watchProcess(false);
  process.kill(process.pid, signal);
}

/**
 * A worker that still holds a mount when the process exits would abort the process (its FUSE
 * handles are still open), so every live mount is taken down, synchronously, on 'exit'.
 * Listeners are installed only while something is mounted.
 */
function watchProcess(on: boolean): void {
  if (on) {
    process.on('exit', unmountAllNow);
    for (const signal of SIGNALS) process.on(signal, onSignal);
  } else {
    process.off('exit', unmountAllNow);
    for (const signal of SIGNALS) process.off(signal, onSignal);
  }
}

function nextMessage(worker: Worker): Promise<ToMain> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: ToMain) => { cleanup(); resolve(message); };
    const onError = (err: Error) => { cleanup(); reject(err); };
    const onExit = (code: number) => { cleanup(); reject(new Error(`the FUSE worker exited with code ${code}`)); };
    const cleanup = () => { worker.off('message', onMessage); worker.off('error', onError); worker.off('exit', onExit); };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
}

/**
 * A live mount, served by its own worker thread: `ls`, `stat` and `cat` keep answering while the
 * main thread is busy (see fuse-worker.ts).
 */
export class FuseMount {
  private unmounting: Promise<void> | null = null;

  private constructor(readonly mountpoint: string, private readonly worker: Worker, private readonly publisher: Publisher,
    private readonly shared: SharedArrayBuffer, private readonly created: boolean) {}

  static async mount(tree: ServedTree, mountpoint: string, options: MountOptions = {}): Promise<FuseMount> {
    await checkFuse();
    if (options.allowOther) {
      process.emitWarning(`procstat: ${mountpoint} is mounted with allow_other: every user of this machine can read its ` +
        'values (and, as far as file modes allow, write its parameters)', 'ProcstatWarning');
    }
    const created = await prepare(mountpoint);
    const shared = new SharedArrayBuffer(SHARED_BYTES);
    const publisher = new Publisher(tree, shared);
    const data: WorkerData = {
      mountpoint, fuseOptions: fuseOptions(options), deadlineMs: options.deadlineMs ?? DEFAULT_DEADLINE_MS, shared,
      initial: publisher.initialListings(), epoch: publisher.epoch,
    };
    const worker = new Worker(path.join(__dirname, 'fuse-worker.js'), { workerData: data });
    publisher.attach(worker);
    let first: ToMain;
    try {
      first = await nextMessage(worker);
    } catch (err) {
      publisher.stop();
      throw new ProcstatError('EIO', `mounting ${mountpoint} failed: ${(err as Error).message}`, { cause: err });
    }
    if (first.t !== 'mounted') {
      publisher.stop();
      await worker.terminate();
      throw first.t === 'failed' ? loadError(first.message, first.libfuse) : new ProcstatError('EIO', `mounting ${mountpoint} failed`);
    }
    worker.unref(); // the mount never keeps the process alive by itself
    const mount = new FuseMount(mountpoint, worker, publisher, shared, created);
    if (live.size === 0) watchProcess(true);
    live.add(mount);
    return mount;
  }

  unmount(): Promise<void> {
    this.unmounting ??= (async () => {
      live.delete(this);
      if (live.size === 0) watchProcess(false);
      const exited = new Promise((resolve) => this.worker.once('exit', resolve));
      this.worker.ref(); // keep the process until the unmount is through
      this.worker.postMessage({ t: 'unmount' });
      await exited;
      this.publisher.stop();
      if (this.created) await fs.rmdir(this.mountpoint).catch(() => undefined);
    })();
    return this.unmounting;
  }

  /** The exit path: no event loop any more, so ask the worker and wait on shared memory. */
  unmountAtExit(): void {
    const { cells } = views(this.shared);
    this.worker.postMessage({ t: 'unmount' });
    Atomics.wait(cells, EXITED, 0, EXIT_UNMOUNT_MS);
  }
}
