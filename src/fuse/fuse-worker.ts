// The FUSE worker: mounts with fuse-native on its own thread and answers the kernel. The structure
// comes from the mirror; value reads and parameter writes ask the main thread and wait at most
// the deadline, after which a read returns the last value known (EAGAIN if none) and a write fails.
import { parentPort, workerData } from 'worker_threads';
import { Mirror, MirrorNode, mirrorNode } from './mirror';
import {
  BLOCKED_AFTER_MS, EPOCH, Errno, EXITED, Listing, now, SLOT_CANCELLED, SLOT_COUNT, SLOT_PENDING, SLOT_TAKEN, ToMain, ToWorker,
  views, WorkerData, WRITE_SLOTS,
} from './protocol';

const { mountpoint, fuseOptions, deadlineMs, shared } = workerData as WorkerData;
const { heartbeat, cells } = views(shared);
const port = parentPort!;
const mirror = new Mirror();
const O_ACCMODE = 3, O_WRONLY = 1, O_RDWR = 2;
const S_IFDIR = 0o040000, S_IFREG = 0o100000;
const uid = process.getuid?.() ?? 0, gid = process.getgid?.() ?? 0;
const mountTime = Date.now();

type Cb = (errno: number, ...results: any[]) => void;
type Reply = Extract<ToWorker, { t: 'reply' }>;
type Request = { t: 'list'; path: string } | { t: 'open'; path: string } | { t: 'write'; path: string; text: string; slot: number };

let appliedEpoch = (workerData as WorkerData).epoch;
let staleReads = 0;
let nextRequest = 1;
interface Pending {
  resolve: (reply: Reply | null) => void;
  expires: number;
  /** Called at the deadline; false when the main thread already took the request (its reply follows). */
  onTimeout?: () => boolean;
}
const pending = new Map<number, Pending>();
/** One timer sweeps expired requests, instead of a timer per request. */
const SWEEP_MS = 5;
const epochWaiters: Array<() => void> = [];

function post(message: ToMain): void {
  port.postMessage(message);
}

/** How long the main thread has not beaten its heartbeat; 0 while it is healthy. */
function blockedMs(): number {
  const age = now() - heartbeat[0];
  return age < BLOCKED_AFTER_MS ? 0 : Math.round(age);
}

/** Sends a request and resolves with the reply, or null past the deadline. */
function ask(message: Request, onTimeout?: () => boolean): Promise<Reply | null> {
  const req = nextRequest++;
  return new Promise((resolve) => {
    pending.set(req, { resolve, expires: now() + deadlineMs, onTimeout });
    post({ ...message, req } as ToMain);
  });
}

function sweep(): void {
  const time = now();
  for (const [req, request] of pending) {
    if (request.expires > time || (request.onTimeout && !request.onTimeout())) continue;
    pending.delete(req);
    request.resolve(null);
  }
}
setInterval(sweep, SWEEP_MS).unref();

function answer(reply: Reply): void {
  const request = pending.get(reply.req);
  if (!request) return;
  pending.delete(reply.req);
  request.resolve(reply);
}

function applyListings(listings: Listing[] | undefined): void {
  for (const listing of listings ?? []) mirror.apply(listing);
}

/** Structure changes the main thread has announced but not yet sent: wait for them (within the deadline). */
async function catchUp(): Promise<void> {
  if (Atomics.load(cells, EPOCH) === appliedEpoch || blockedMs() > 0) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, deadlineMs);
    epochWaiters.push(() => { clearTimeout(timer); resolve(); });
  });
}

/** Asks the main thread for a directory's listing; an errno when it cannot be had. */
async function list(path: string, dir: MirrorNode): Promise<number> {
  const reply = blockedMs() > deadlineMs ? null : await ask({ t: 'list', path });
  if (!reply) return Errno.EAGAIN;
  if (reply.errno) return reply.errno;
  applyListings(reply.listings);
  return dir.children === null ? Errno.ENOENT : 0;
}

/**
 * The mirror node at `path`, asking the main thread for listings it does not have yet (instance
 * directories are listed on first use); with `listed`, a directory's own listing too.
 */
async function resolve(path: string, listed = false): Promise<MirrorNode | number> {
  await catchUp();
  for (;;) {
    const { node, unlisted } = mirror.walk(path);
    if (node && !(listed && node.isDir && node.children === null)) return node;
    const missing = node ? { dir: node, path } : unlisted;
    if (!missing) return Errno.ENOENT;
    const errno = await list(missing.path, missing.dir);
    if (errno) return errno;
  }
}

function statOf(node: MirrorNode) {
  return { mode: node.mode, nlink: node.isDir ? 2 : 1, size: 0, uid, gid, ino: node.id, mtime: mountTime, atime: mountTime, ctime: mountTime };
}

function localFile(read: () => string): MirrorNode {
  return { ...mirrorNode(0, false, S_IFREG | 0o444), local: true, read };
}

// procstat/: how the mount itself is doing, answered without the main thread.
const statusDir: MirrorNode = { ...mirrorNode(0, true, S_IFDIR | 0o755), local: true };
statusDir.children = new Map([
  ['event_loop_blocked_ms', localFile(() => `${blockedMs()}\n`)],
  ['stale_reads', localFile(() => `${staleReads}\n`)],
]);

interface OpenFile {
  node: MirrorNode;
  content: Buffer | null;
  written: Buffer;
  path: string;
}
const open = new Map<number, OpenFile>();
let nextFd = 1;

/** The file's content now, or the last known one past the deadline (counted as a stale read). */
async function readContent(path: string, node: MirrorNode): Promise<Buffer | number> {
  if (node.read) return Buffer.from(node.read());
  const reply = blockedMs() > deadlineMs ? null : await ask({ t: 'open', path });
  if (reply) {
    if (reply.errno) return reply.errno;
    node.content = Buffer.from(reply.content ?? '');
    return node.content;
  }
  if (!node.content) return Errno.EAGAIN;
  staleReads++;
  return node.content;
}

/** Asks the main thread to apply a write; past the deadline it is cancelled unless already taken. */
async function applyWrite(path: string, text: string): Promise<number> {
  const slot = nextRequest % SLOT_COUNT;
  Atomics.store(cells, WRITE_SLOTS + slot, SLOT_PENDING);
  if (blockedMs() > deadlineMs) return Errno.EAGAIN;
  const reply = await ask({ t: 'write', path, text, slot },
    () => Atomics.compareExchange(cells, WRITE_SLOTS + slot, SLOT_PENDING, SLOT_CANCELLED) !== SLOT_TAKEN);
  return reply ? reply.errno : Errno.EAGAIN;
}

const refuse = (...args: any[]) => (args[args.length - 1] as Cb)(Errno.EPERM);

function run(cb: Cb, work: () => Promise<void>): void {
  work().catch(() => cb(Errno.EIO));
}

/**
 * The common case without promises: the mirror is current and holds the path. Undefined when the
 * main thread must be asked (or waited for).
 */
function resolveNow(path: string, listed = false): MirrorNode | number | undefined {
  if (Atomics.load(cells, EPOCH) !== appliedEpoch && blockedMs() === 0) return undefined;
  const { node, unlisted } = mirror.walk(path);
  if (node) return listed && node.isDir && node.children === null ? undefined : node;
  return unlisted ? undefined : Errno.ENOENT;
}

/** Runs `then` with the node at `path`: at once when the mirror has it, else after asking. */
function withNode(path: string, cb: Cb, then: (node: MirrorNode) => void | Promise<void>, listed = false): void {
  const now = resolveNow(path, listed);
  if (now === undefined) {
    run(cb, async () => {
      const node = await resolve(path, listed);
      if (typeof node === 'number') return cb(node);
      await then(node);
    });
  } else if (typeof now === 'number') {
    cb(now);
  } else {
    const result = then(now);
    if (result) result.catch(() => cb(Errno.EIO));
  }
}

const operations = {
  getattr(path: string, cb: Cb) {
    withNode(path, cb, (node) => cb(0, statOf(node)));
  },
  readdir(path: string, cb: Cb) {
    withNode(path, cb, (node) => {
      if (!node.isDir) return cb(Errno.ENOTDIR);
      cb(0, [...node.children!.keys()]);
    }, true);
  },
  open(path: string, flags: number, cb: Cb) {
    withNode(path, cb, async (node) => {
      if (node.isDir) return cb(Errno.EISDIR);
      const mode = flags & O_ACCMODE;
      const wantsRead = mode !== O_WRONLY, wantsWrite = mode === O_WRONLY || mode === O_RDWR;
      if ((wantsRead && !(node.mode & 0o444)) || (wantsWrite && !(node.mode & 0o222))) return cb(Errno.EACCES);
      let content: Buffer | null = null;
      if (wantsRead) {
        const result = await readContent(path, node);
        if (typeof result === 'number') return cb(result);
        content = result;
      }
      const fd = nextFd++;
      open.set(fd, { node, content, written: Buffer.alloc(0), path });
      cb(0, fd);
    });
  },
  read(path: string, fd: number, buf: Buffer, len: number, pos: number, cb: Cb) {
    const file = open.get(fd);
    if (!file || !file.content) return cb(Errno.EBADF);
    const answer = () => {
      if (file.node.gone) return cb(Errno.ENOENT);
      if (pos >= file.content!.length) return cb(0);
      cb(file.content!.copy(buf, 0, pos, Math.min(pos + len, file.content!.length)));
    };
    // A removal the main thread has announced must be seen first.
    if (Atomics.load(cells, EPOCH) === appliedEpoch) answer();
    else run(cb, async () => { await catchUp(); answer(); });
  },
  write(path: string, fd: number, buf: Buffer, len: number, pos: number, cb: Cb) {
    const file = open.get(fd);
    if (!file) return cb(Errno.EBADF);
    if (file.node.gone) return cb(Errno.ENOENT);
    // A value arrives whole or in consecutive pieces; a write elsewhere cannot make a value.
    if (pos !== file.written.length) return cb(Errno.EINVAL);
    const written = Buffer.concat([file.written, buf.subarray(0, len)]);
    run(cb, async () => {
      const errno = await applyWrite(file.path, written.toString('utf8'));
      if (errno) return cb(errno);
      file.written = written;
      cb(len);
    });
  },
  release(path: string, fd: number, cb: Cb) {
    open.delete(fd);
    cb(0);
  },
  // `echo 5 > file` truncates before it writes; a parameter has nothing to truncate.
  truncate(path: string, size: number, cb: Cb) {
    withNode(path, cb, (node) => cb(node.mode & 0o222 ? 0 : Errno.EACCES));
  },
  ftruncate(path: string, fd: number, size: number, cb: Cb) {
    const file = open.get(fd);
    cb(!file ? Errno.EBADF : file.node.mode & 0o222 ? 0 : Errno.EACCES);
  },
  create: refuse, mkdir: refuse, rmdir: refuse, unlink: refuse, rename: refuse, link: refuse,
  symlink: refuse, mknod: refuse, chmod: refuse, chown: refuse, utimens: refuse, setxattr: refuse, removexattr: refuse,
};

/**
 * Unmounts, then ends the worker (the main thread awaits its exit); a main thread that is exiting
 * has no event loop and waits on shared memory instead.
 */
function unmount(fuse: any): void {
  fuse.unmount(() => {
    Atomics.store(cells, EXITED, 1);
    Atomics.notify(cells, EXITED);
    port.close(); // nothing is left on this thread's loop: the worker ends by itself
  });
}

function main(): void {
  let Fuse: any;
  try {
    Fuse = require('fuse-native');
  } catch (err) {
    const message = String((err as Error).message);
    post({ t: 'failed', message, libfuse: /libfuse\.so\.2/.test(message) });
    return;
  }
  // No per-operation timer: every answer is bounded by the deadline already.
  const fuse = new Fuse(mountpoint, operations, { autoUnmount: true, timeout: false });
  fuse._fuseOptions = () => fuseOptions;
  port.on('message', (message: ToWorker) => {
    switch (message.t) {
      case 'sync':
        applyListings(message.listings);
        appliedEpoch = message.epoch;
        for (const wake of epochWaiters.splice(0)) wake();
        return;
      case 'reply':
        answer(message);
        return;
      case 'unmount':
        unmount(fuse);
        return;
    }
  });
  fuse.mount((err: Error | null) => {
    if (err) return post({ t: 'failed', message: err.message, libfuse: false });
    post({ t: 'mounted' });
  });
}

for (const listing of (workerData as WorkerData).initial) mirror.apply(listing);
mirror.root.children!.set('procstat', statusDir);
main();
