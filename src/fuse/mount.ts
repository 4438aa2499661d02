import { execFile } from 'child_process';
import { constants, promises as fs } from 'fs';
import * as path from 'path';
import { isMainThread, Worker } from 'worker_threads';
import { ProcstatError } from '../runtime/errors';
import { loadAddon, MountHandle } from './addon';
import { Publisher } from './publisher';
import { ContextView } from '../runtime/context-view';
import { statusDirectory } from './status-files';
import { DirNode } from '../runtime/nodes';

/** The options the FUSE mount reads. */
export interface FuseMountOptions {
  /** Let other users read the mount (FUSE `allow_other`, with `default_permissions`; needs `user_allow_other` in /etc/fuse.conf). */
  allowOther?: boolean;
  /** How long a value read or parameter write waits for a busy main thread (ms, default 100). */
  deadlineMs?: number;
  /**
   * The most of the main thread procstat's getters, listings and writes take in one turn of the
   * event loop (ms, default 1); what does not fit waits for the next turn, after the program's callbacks.
   */
  readBudgetMs?: number;
  /** A blocked event loop past this is a stall: its stack is taken and it is recorded in procstat/stall/ (ms, default 1000; 0: off). */
  stallThresholdMs?: number;
}

const DEFAULT_DEADLINE_MS = 100;
const DEFAULT_READ_BUDGET_MS = 1;
const DEFAULT_STALL_THRESHOLD_MS = 1000;

/**
 * The worker that takes the main thread's stack during a stall (stall-watcher.ts): one per process,
 * started by the first mount and kept (idle while nothing is mounted), unref'd so that it never
 * keeps the process alive. Only for mounts of the main thread: its inspector session reaches the
 * main thread, not a worker that mounts.
 */
let watcher: Worker | undefined;

function watchStalls(id: number): void {
  if (!isMainThread) return;
  if (!watcher) {
    watcher = new Worker(path.join(__dirname, 'stall-watcher.js'));
    watcher.unref();
    // The watcher must never take the service down: its failure only costs the stall stacks.
    watcher.on('error', (err) => process.emitWarning(`procstat: the stall watcher failed: ${err.message}`, 'ProcstatWarning'));
    watcher.on('exit', () => { watcher = undefined; });
  }
  watcher.postMessage(id);
}

/**
 * Options for fusermount3. `auto_unmount`: fusermount3 stays alive and removes the mount when the
 * process dies, even by SIGKILL. `allow_other` comes with `default_permissions`, so that the kernel
 * enforces the file modes for other users. Caching, `direct_io` and timeouts are the addon's.
 */
export function fuseOptions(options: FuseMountOptions): string {
  const list = ['fsname=procstat', 'subtype=procstat', 'auto_unmount'];
  if (options.allowOther) list.push('allow_other', 'default_permissions');
  return list.join(',');
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

const NO_FUSERMOUNT = 'fusermount3 was not found on $PATH: install it (Debian/Ubuntu: apt-get install fuse3)';

/** `crw-------`, as `ls -l` shows a mode. */
function modeString(mode: number): string {
  return 'c' + [6, 3, 0].map((shift) => ['r', 'w', 'x'].map((c, i) => (mode >> shift) & (4 >> i) ? c : '-').join('')).join('');
}

/** Checks what FUSE needs on this machine; each failure says how to fix it. */
async function checkFuse(): Promise<void> {
  if (!await fs.access('/dev/fuse', constants.R_OK | constants.W_OK).then(() => true, () => false)) {
    const device = await fs.stat('/dev/fuse').catch(() => undefined);
    if (device) {
      // There, but its mode refuses this user (Debian's udev rule makes it 0666; some images keep 0600).
      throw new ProcstatError('EACCES', `FUSE is not usable by this user (uid ${process.getuid!()}, gid ${process.getgid!()}): ` +
        `/dev/fuse is ${modeString(device.mode)} owned by uid ${device.uid}, gid ${device.gid}. Make it 0666 as most ` +
        'distributions do (chmod 0666 /dev/fuse, or a udev rule: KERNEL=="fuse", MODE="0666"), or run as a user its mode allows');
    }
    throw new ProcstatError('ENODEV', 'FUSE is not available: /dev/fuse is missing. ' +
      'Load the module (modprobe fuse); in a container run with --device /dev/fuse --cap-add SYS_ADMIN');
  }
  if (!await onPath('fusermount3')) throw new ProcstatError('ENODEV', NO_FUSERMOUNT);
}

/** Unmounts a stale mount (its process is gone) without a shell. */
function unmountStale(mountpoint: string): Promise<void> {
  return run('fusermount3', ['-uz', '--', mountpoint]).catch(() => undefined);
}

/** A path as one shell word, for the commands an error message suggests. */
function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

/**
 * `mkdir -p`, one level at a time: Node's recursive mkdir never returns for some paths (under
 * /proc it retries forever), a plain mkdir fails there.
 */
async function makeDirectories(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let d = dir; !(await fs.stat(d).then(() => true, () => false)); d = path.dirname(d)) missing.unshift(d);
  for (const d of missing) await fs.mkdir(d).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'EEXIST') throw err; });
}

/**
 * Makes `mountpoint` a usable directory: created if missing, a stale mount of a dead process
 * ("Transport endpoint is not connected") unmounted, a live mount or a non-directory refused.
 */
async function prepare(mountpoint: string): Promise<boolean> {
  let stat = await fs.stat(mountpoint).catch((err) => err as NodeJS.ErrnoException);
  if (stat instanceof Error && stat.code === 'ENOTCONN') {
    await unmountStale(mountpoint);
    stat = await fs.stat(mountpoint).catch((err) => err as NodeJS.ErrnoException);
  }
  if (stat instanceof Error) {
    if (stat.code !== 'ENOENT') throw new ProcstatError('EINVAL', `cannot use ${mountpoint} as a mountpoint: ${stat.message}`);
    await makeDirectories(mountpoint).catch((err: Error) => {
      throw new ProcstatError('EINVAL', `cannot create ${mountpoint} as a mountpoint: ${err.message}`);
    });
    return true;
  }
  if (!stat.isDirectory()) {
    throw new ProcstatError('ENOTDIR', `${mountpoint} is not a directory; pass mount() a directory path (it is created if missing)`);
  }
  const parent = await fs.stat(path.dirname(mountpoint));
  if (parent.dev !== stat.dev) {
    throw new ProcstatError('EBUSY', `${mountpoint} is busy: something is already mounted there. ` +
      `Unmount it (fusermount3 -u ${shellWord(mountpoint)}) or choose another path`);
  }
  return false;
}

/** The errors the addon's mount reports, as the user should read them. */
function mountError(err: unknown, mountpoint: string): ProcstatError {
  if (err instanceof ProcstatError) return err;
  const { code, message } = err as { code?: string; message?: string };
  if (code === 'ENOFUSERMOUNT') return new ProcstatError('ENODEV', NO_FUSERMOUNT);
  return new ProcstatError('EIO', `mounting ${mountpoint} failed: ${message}`, { cause: err });
}

const live = new Set<FuseMount>();

/**
 * A mount still up when the process exits is taken down first (the addon's threads stop, the
 * device closes, fusermount3 removes the mount). Signals take no JavaScript: for SIGINT and
 * SIGTERM the addon's own handler removes the mount and lets the signal end the process as it
 * would have (a stuck main thread dies all the same); for a signal the program listens to, its
 * listener decides; for any other signal, or SIGKILL, fusermount3's auto_unmount removes the mount.
 */
function unmountAllNow(): void {
  for (const mount of live) mount.unmountNow();
}

/** A mount served by procstat's addon: the structure in C, values from this thread (see Publisher). */
export class FuseMount {
  private unmounted = false;

  private constructor(readonly mountpoint: string, private readonly handle: MountHandle, private readonly publisher: Publisher,
    private readonly created: boolean,
    /** The addon's procstat/ figures as tree files, for the Prometheus view (not in the tree: see status-files.ts). */
    readonly status: DirNode) {}

  static async mount(view: ContextView, mountpoint: string, options: FuseMountOptions = {}): Promise<FuseMount> {
    await checkFuse();
    const addon = loadAddon();
    if (options.allowOther) {
      process.emitWarning(`procstat: ${mountpoint} is mounted with allow_other: every user of this machine can read its ` +
        'values (the kernel enforces the file modes: only the owner writes parameters)', 'ProcstatWarning');
    }
    const created = await prepare(mountpoint);
    const publisher = new Publisher(view, addon);
    let handle: MountHandle;
    const stallThresholdMs = options.stallThresholdMs ?? DEFAULT_STALL_THRESHOLD_MS;
    try {
      handle = addon.mount(mountpoint, fuseOptions(options), options.deadlineMs ?? DEFAULT_DEADLINE_MS, {
        read: (inos, budgetMs) => publisher.read(inos, budgetMs), list: (ino, parent, name) => publisher.list(ino, parent, name),
        write: (ino, data) => publisher.write(ino, data),
      }, process.listenerCount('SIGINT') === 0, process.listenerCount('SIGTERM') === 0, stallThresholdMs,
      options.readBudgetMs ?? DEFAULT_READ_BUDGET_MS);
    } catch (err) {
      publisher.stop();
      if (created) await fs.rmdir(mountpoint).catch(() => undefined);
      throw mountError(err, mountpoint);
    }
    publisher.attach(handle);
    if (stallThresholdMs > 0) watchStalls(addon.status(handle).id);
    const status = statusDirectory(() => addon.status(handle));
    const mount = new FuseMount(mountpoint, handle, publisher, created, status);
    if (live.size === 0) process.on('exit', unmountAllNow);
    live.add(mount);
    // Should this process die stuck in the kernel, a process of the addon's aborts the connection (native watch_main).
    await fs.stat(mountpoint).then(({ dev }) => addon.watch(handle, dev), () => undefined);
    return mount;
  }

  /** Synchronous: the addon stops serving, closes the device and waits for fusermount3 to remove the mount. */
  unmountNow(): void {
    if (this.unmounted) return;
    this.unmounted = true;
    live.delete(this);
    if (live.size === 0) process.off('exit', unmountAllNow);
    this.publisher.stop();
    loadAddon().unmount(this.handle);
  }

  async unmount(): Promise<void> {
    const first = !this.unmounted;
    this.unmountNow();
    if (first && this.created) await fs.rmdir(this.mountpoint).catch(() => undefined);
  }
}
