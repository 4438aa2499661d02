import { ContextView } from '../runtime/context-view';
import { ProcstatError } from '../runtime/errors';
import { IntTable } from '../runtime/int-table';
import { DirNode, FileNode, Node, nodesMayBeRemoved, TreeObserver } from '../runtime/nodes';
import { Addon, F_DIR, F_ELEMENTS, F_HIDDEN, F_LAZY, Handlers, MountHandle, NO_DESCRIPTION, ROOT_INO, STATUS_INO } from './addon';

/** How often listed lazy directories are brought up to date, and how many at most per round. */
const REFRESH_MS = 100;
const REFRESH_BUDGET = 500;

const ERRNO: Record<string, number> = {
  EPERM: 1, ENOENT: 2, EIO: 5, EAGAIN: 11, EACCES: 13, EEXIST: 17, ENOTDIR: 20, EISDIR: 21, EINVAL: 22, EBUSY: 16, ENODEV: 19,
};
const EIO = 5, ENOENT = 2, ENOTDIR = 20, EISDIR = 21, EACCES = 13, EINVAL = 22;

function errnoOf(err: unknown): number {
  return err instanceof ProcstatError ? ERRNO[err.code] ?? EIO : EIO;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The main thread's side of a mount: tells the addon about every node as it is added or removed
 * (the addon answers the structure itself), and answers what only JavaScript knows: a value's
 * content, a lazy directory's listing, a parameter write.
 */
export class Publisher implements TreeObserver, Handlers {
  /** Every node the addon knows, by inode number (in chunks: no table-wide rebuild under churn). */
  private readonly nodes = new IntTable<Node>();
  /** Lazy directories whose listing the addon has: kept current by refresh(). */
  private readonly listed = new Set<DirNode>();
  private refreshCursor: Iterator<DirNode> | null = null;
  private sweepCursor: Iterator<[number, Node]> | null = null;
  private readonly timer: NodeJS.Timeout;
  private handle: MountHandle | null = null;
  /** The addon's numbers for the descriptions told so far, by kind, help and unit. */
  private readonly descriptions = new Map<string, number>();

  constructor(private readonly view: ContextView, private readonly addon: Addon) {
    this.timer = setInterval(() => this.refreshSome(), REFRESH_MS);
    this.timer.unref();
  }

  /** Starts mirroring: the whole tree except the inside of lazy directories goes to the addon. */
  attach(handle: MountHandle): void {
    this.handle = handle;
    this.nodes.set(ROOT_INO, this.view.root);
    this.publishChildren(this.view.root);
    this.view.root.observer = this;
  }

  stop(): void {
    clearInterval(this.timer);
    if (this.view.root.observer === this) this.view.root.observer = undefined;
    this.handle = null;
    this.nodes.clear();
    this.listed.clear();
  }

  private ino(node: Node): number {
    if (node === this.view.root) return ROOT_INO;
    // The tree's procstat/ (the class census) goes into the addon's own procstat/ directory.
    if (node.parent === this.view.root && node.name === 'procstat') return STATUS_INO;
    return node.id + 1;
  }

  /** The addon's number for a file's kind, help and unit (its user.procstat.* attributes). */
  private description(file: FileNode): number {
    const { help, unit } = file.behavior;
    const key = `${file.fileKind}\0${help ?? ''}\0${unit ?? ''}`;
    let number = this.descriptions.get(key);
    if (number === undefined) {
      number = this.addon.describe(this.handle!, file.fileKind, help, unit);
      this.descriptions.set(key, number);
    }
    return number;
  }

  /** Whether the addon holds `dir`'s listing (so a new child must be told). */
  private holdsListing(dir: DirNode): boolean {
    return this.nodes.has(this.ino(dir)) && (!dir.listsLiveObjects || this.listed.has(dir));
  }

  /** Tells the addon about `node` and, for a directory that is not lazy, everything below it. Iterative: trees can be deep. */
  private publish(parent: DirNode, node: Node): void {
    if (!this.publishOne(parent, node)) return;
    const stack: DirNode[] = [node as DirNode];
    while (stack.length > 0) {
      const dir = stack.pop()!;
      for (const child of dir.announced()) {
        if (!(child instanceof Node)) this.tellEntry(dir, child.name, child.id);
        else if (this.publishOne(dir, child)) stack.push(child as DirNode);
      }
    }
  }

  /** Tells the addon about one node; true for a directory whose children it must be told about too (not lazy). */
  private publishOne(dir: DirNode, child: Node): boolean {
    const ino = this.ino(child);
    if (this.nodes.has(ino) || child.removed) return false;
    if (child instanceof DirNode) {
      const lazy = child.listsLiveObjects;
      const flags = F_DIR | (lazy ? F_LAZY : 0) | (child.hidden ? F_HIDDEN : 0) | (child.elementsLeaveUntold ? F_ELEMENTS : 0);
      this.addon.add(this.handle!, this.ino(dir), ino, child.name, flags, 0o755, NO_DESCRIPTION);
      this.nodes.set(ino, child);
      return !lazy;
    }
    const file = child as FileNode;
    this.addon.add(this.handle!, this.ino(dir), ino, file.name, 0, file.permissions, this.description(file));
    this.nodes.set(ino, file);
    return false;
  }

  private publishChildren(dir: DirNode): void {
    for (const child of dir.announced()) {
      if (!(child instanceof Node)) this.tellEntry(dir, child.name, child.id);
      else this.publish(dir, child);
    }
  }

  added(parent: DirNode, child: Node): void {
    if (this.handle && this.holdsListing(parent)) this.publish(parent, child);
  }

  removed(parent: DirNode, child: Node): void {
    this.forget(this.ino(child), child);
  }

  /** The addon gets the entry; its node is found by name when the addon first asks for its listing (list()). */
  addedEntry(parent: DirNode, name: string, id: number): void {
    if (this.handle && this.holdsListing(parent)) this.tellEntry(parent, name, id);
  }

  private tellEntry(parent: DirNode, name: string, id: number): void {
    this.addon.add(this.handle!, this.ino(parent), id + 1, name, F_DIR | F_LAZY, 0o755, NO_DESCRIPTION);
  }

  /** Not among `nodes` (never asked for): the addon may still have it. */
  removedEntry(id: number): void {
    if (this.handle) this.addon.remove(this.handle, id + 1);
  }

  /**
   * The addon drops the node too, whether `nodes` has it or not: an instance's directory made after
   * its entry was told (addedEntry()) is not among `nodes` until the addon asks for its listing.
   */
  private forget(ino: number, node: Node): void {
    if (!this.handle) return;
    this.nodes.delete(ino);
    this.addon.remove(this.handle, ino);
    if (node instanceof DirNode) this.listed.delete(node);
  }

  hiddenChanged(node: Node): void {
    const ino = this.ino(node);
    if (this.handle && this.nodes.has(ino)) this.addon.setHidden(this.handle, ino, node.hidden);
  }

  /** A node the addon asked about, or undefined once it left the tree (its entry goes then). */
  private live(ino: number): Node | undefined {
    const node = this.nodes.get(ino);
    if (node && node.removed) {
      this.forget(ino, node);
      return undefined;
    }
    return node;
  }

  read(inos: number[], budgetMs: number): Array<string | number> {
    const ends = performance.now() + budgetMs;
    const answers: Array<string | number> = [];
    for (const ino of inos) {
      answers.push(this.readOne(ino));
      if (performance.now() >= ends) break;
    }
    return answers;
  }

  private readOne(ino: number): string | number {
    const file = this.live(ino);
    if (!file) return ENOENT;
    if (!(file instanceof FileNode)) return EISDIR;
    try {
      return this.view.reader.readFile(file);
    } catch (err) {
      return errnoOf(err);
    }
  }

  /** `parent` and `name`: where the addon has `ino`, for an entry told without its node (addedEntry()). */
  list(ino: number, parent: number, name: string): number {
    const dir = this.live(ino) ?? this.entryNode(ino, parent, name);
    if (!dir) return ENOENT;
    if (!(dir instanceof DirNode)) return ENOTDIR;
    this.publishChildren(dir);
    this.listed.add(dir);
    return 0;
  }

  /** The node of an entry told by addedEntry(), made now; undefined if the entry is gone. */
  private entryNode(ino: number, parent: number, name: string): Node | undefined {
    const dir = this.live(parent);
    const node = dir instanceof DirNode ? dir.child(name) : undefined;
    if (!node || this.ino(node) !== ino) return undefined;
    this.nodes.set(ino, node);
    return node;
  }

  /** A whole value (see the addon's write rule); text that is not UTF-8 is refused. */
  write(ino: number, data: Buffer): number {
    const file = this.live(ino);
    if (!file) return ENOENT;
    if (!(file instanceof FileNode) || !file.writable) return EACCES;
    let text: string;
    try {
      text = utf8.decode(data);
    } catch {
      return EINVAL;
    }
    try {
      this.view.reader.writeFile(file, text);
      return 0;
    } catch (err) {
      return errnoOf(err);
    }
  }

  /**
   * Lazy directories change without telling (an array grows, a field gets another object), and the
   * entries of nodes below a removed directory are only found by looking: each round does a bounded
   * share of both, so no round costs more than that however large the tree.
   */
  private refreshSome(): void {
    if (!this.handle) return;
    nodesMayBeRemoved(); // objects the collector took since the last round: their directories are gone
    this.view.refreshNesting();
    // Deep trees: each directory is looked at once per round, not once per node below it (what this
    // round's refreshes remove is told by their own events; a stale answer here waits one round).
    const seen = new Map<Node, boolean>();
    this.refreshCursor ??= this.listed.values();
    for (let budget = REFRESH_BUDGET; budget > 0; budget--) {
      const next = this.refreshCursor.next();
      if (next.done) { this.refreshCursor = null; break; }
      if (next.value.removedAmong(seen)) this.listed.delete(next.value);
      else next.value.refresh();
    }
    this.sweepCursor ??= this.nodes.entries();
    for (let budget = REFRESH_BUDGET * 4; budget > 0; budget--) {
      const next = this.sweepCursor.next();
      if (next.done) { this.sweepCursor = null; break; }
      if (next.value[1].removedAmong(seen)) this.forget(next.value[0], next.value[1]);
    }
  }
}
