import { Worker } from 'worker_threads';
import { ProcstatError } from '../runtime/errors';
import { DirNode, FileNode, Node } from '../runtime/nodes';
import {
  Entry, Errno, EPOCH, HEARTBEAT_MS, Listing, now, SLOT_COUNT, SLOT_PENDING, SLOT_TAKEN, ToMain, ToWorker, views, WRITE_SLOTS,
} from './protocol';
import { ServedTree } from './served-tree';

const S_IFDIR = 0o040000, S_IFREG = 0o100000;
/** How often published arrays and Maps are re-listed (their changes are not announced). */
const VOLATILE_CHECK_MS = 100;
const FILE_CACHE_LIMIT = 1 << 16;

function errnoOf(err: unknown): number {
  return err instanceof ProcstatError ? (Errno as Record<string, number>)[err.code] ?? Errno.EIO : Errno.EIO;
}

function entryOf(node: Node): Entry {
  return node instanceof DirNode
    ? [node.name, node.id, 1, S_IFDIR | 0o755]
    : [node.name, node.id, 0, S_IFREG | (node as FileNode).permissions];
}

/**
 * The main thread's side of a mount: keeps the worker's mirror of the tree current with batched
 * listings, answers value reads and parameter writes, and beats a heartbeat the worker watches.
 */
export class Publisher {
  private readonly published = new WeakSet<DirNode>();
  private readonly volatileDirs = new Map<DirNode, string>();
  private readonly dirty = new Set<DirNode>();
  private flushScheduled = false;
  private readonly heartbeat: Float64Array;
  private readonly cells: Int32Array;
  private readonly timers: NodeJS.Timeout[];
  private worker: Worker | null = null;

  constructor(private readonly tree: ServedTree, shared: SharedArrayBuffer) {
    ({ heartbeat: this.heartbeat, cells: this.cells } = views(shared));
    this.heartbeat[0] = now();
    this.timers = [
      setInterval(() => { this.heartbeat[0] = now(); }, HEARTBEAT_MS),
      setInterval(() => this.checkVolatile(), VOLATILE_CHECK_MS),
    ];
    for (const timer of this.timers) timer.unref();
    tree.root.onChange = (dir) => this.changed(dir);
  }

  attach(worker: Worker): void {
    this.worker = worker;
    worker.on('message', (message: ToMain) => this.handle(message));
  }

  /** The listings the worker starts with: every directory except lazy ones (instances, collections). */
  initialListings(): Listing[] {
    return this.publishTree(this.tree.root);
  }

  stop(): void {
    for (const timer of this.timers) clearInterval(timer);
    if (this.tree.root.onChange) this.tree.root.onChange = undefined;
  }

  private send(message: ToWorker): void {
    this.worker?.postMessage(message);
  }

  get epoch(): number {
    return Atomics.load(this.cells, EPOCH);
  }

  private changed(dir: DirNode): void {
    Atomics.add(this.cells, EPOCH, 1);
    this.dirty.add(dir);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    this.files.clear(); // the structure changed: cached paths could keep removed nodes alive
    const epoch = Atomics.load(this.cells, EPOCH);
    const listings: Listing[] = [];
    for (const dir of this.dirty) {
      if (this.published.has(dir) && !dir.removed) listings.push(...this.publishTree(dir));
    }
    this.dirty.clear();
    this.send({ t: 'sync', epoch, listings });
  }

  private checkVolatile(): void {
    for (const [dir, signature] of this.volatileDirs) {
      if (dir.removed) {
        this.volatileDirs.delete(dir);
      } else if (dir.names().join('/') !== signature) {
        this.changed(dir);
      }
    }
  }

  private listing(dir: DirNode): Listing {
    const entries: Entry[] = [];
    for (const child of dir.children()) entries.push(entryOf(child));
    this.published.add(dir);
    if (dir.volatile) this.volatileDirs.set(dir, entries.map((e) => e[0]).join('/'));
    return { path: `/${dir.pathFrom(null)}`, id: dir.id, entries };
  }

  /** Lists `dir`, and every directory below it not yet published that is not lazy. */
  private publishTree(dir: DirNode): Listing[] {
    const listings = [this.listing(dir)];
    for (const child of dir.children()) {
      if (child instanceof DirNode && !child.lazy && !this.published.has(child)) listings.push(...this.publishTree(child));
    }
    return listings;
  }

  /** Files by path: a value open is the hot request, and its path rarely changes meaning. */
  private readonly files = new Map<string, FileNode>();

  private fileAt(path: string): Node | undefined {
    const cached = this.files.get(path);
    if (cached && !cached.removed) return cached;
    const node = this.resolve(path);
    if (this.files.size >= FILE_CACHE_LIMIT) this.files.clear(); // removed files leave only by lookup
    if (node instanceof FileNode) this.files.set(path, node);
    else this.files.delete(path);
    return node;
  }

  private resolve(path: string): Node | undefined {
    let node: Node | undefined = this.tree.root;
    for (const part of path.split('/')) {
      if (part === '') continue;
      node = node instanceof DirNode ? node.child(part) : undefined;
      if (!node) return undefined;
    }
    return node;
  }

  private handle(message: ToMain): void {
    switch (message.t) {
      case 'list': {
        const dir = this.resolve(message.path);
        if (!(dir instanceof DirNode) || dir.removed) return this.send({ t: 'reply', req: message.req, errno: dir ? Errno.ENOTDIR : Errno.ENOENT });
        return this.send({ t: 'reply', req: message.req, errno: 0, listings: this.publishTree(dir) });
      }
      case 'open': {
        const file = this.fileAt(message.path);
        if (!(file instanceof FileNode) || file.removed) return this.send({ t: 'reply', req: message.req, errno: file ? Errno.EISDIR : Errno.ENOENT });
        try {
          return this.send({ t: 'reply', req: message.req, errno: 0, content: this.tree.readFile(file) });
        } catch (err) {
          return this.send({ t: 'reply', req: message.req, errno: errnoOf(err) });
        }
      }
      case 'write':
        return this.send({ t: 'reply', req: message.req, errno: this.write(message.path, message.text, message.slot) });
    }
  }

  /** Applies a write unless the worker gave up on it (past the deadline): exactly one side decides. */
  private write(path: string, text: string, slot: number): number {
    if (Atomics.compareExchange(this.cells, WRITE_SLOTS + (slot % SLOT_COUNT), SLOT_PENDING, SLOT_TAKEN) !== SLOT_PENDING) {
      return Errno.EAGAIN;
    }
    const file = this.resolve(path);
    if (!(file instanceof FileNode) || file.removed) return Errno.ENOENT;
    if (!file.writable) return Errno.EACCES;
    try {
      this.tree.writeFile(file, text);
      return 0;
    } catch (err) {
      return errnoOf(err);
    }
  }
}
