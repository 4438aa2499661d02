import { ProcstatError } from './errors';
import type { Histogram } from './histogram';
import type { Series } from './series';

let nextId = 1;

/**
 * Counts the events after which a node may be removed that was not: a node removed, an object
 * released, and each refresh round of a mount (for the objects the collector took meanwhile). What
 * `removed` found of the directories above a node holds until the next one.
 */
let removals = 1;

/** A node may have been removed that was not (an object was released, or collected: called each refresh round). */
export function nodesMayBeRemoved(): void {
  removals++;
}

/** An id for a node not made yet: a mirroring view is told it first, the node is made with it when asked for (class-dir.ts). */
export function reserveNodeId(): number {
  return nextId++;
}

/** The one spelling of a metric kind: a `@Counter` only goes up; a `@Gauge` goes up and down. */
export type MetricKind = 'counter' | 'gauge';
/** What a file is, as its user.procstat.kind attribute says: how it was declared (`@Stat`: neither metric nor parameter). */
export type FileKind = MetricKind | 'parameter' | 'stat';

/** The metric kind of a declared kind, if it is one. */
export function metricOf(kind: FileKind): MetricKind | undefined {
  return kind === 'counter' || kind === 'gauge' ? kind : undefined;
}

/** One entry of the stats tree. Ids are stable for the node's life and never reused. */
export abstract class Node {
  /** @internal */
  readonly id = nextId++;
  /** @internal */
  parent: DirNode | null = null;
  private detached = false;
  /** The value of `removals` when this node and every directory above it were last found there; -1 once found removed (for good). */
  private presentAt = 0;

  constructor(readonly name: string) {}

  /**
   * True once the node (or a directory above it) was removed; open files of it then answer ENOENT.
   * The node itself is looked at each time; the directories above only up to the first one found
   * there since the last removal (`removals`): a deep tree's nodes cost one walk to the root between
   * removals, not one each.
   */
  get removed(): boolean {
    if (this.presentAt === -1) return true;
    const now = removals;
    // A loop, not recursion: trees can be deeper than the stack. The node itself is always looked at.
    let node: Node | null = this;
    for (; node && (node === this || node.presentAt !== now); node = node.parent) {
      if (node.gone || node.presentAt === -1) {
        this.presentAt = -1;
        return true;
      }
    }
    for (let above: Node | null = this; above !== node; above = above!.parent) above!.presentAt = now;
    return false;
  }

  /**
   * `removed`, with what is found of the directories above kept in `seen`: a sweep over many nodes
   * of one deep tree then walks each directory once, not once per node below it.
   */
  /** @internal */
  removedAmong(seen: Map<Node, boolean>): boolean {
    const path: Node[] = [];
    let removed = false;
    for (let node: Node | null = this; node; node = node.parent) {
      const known = seen.get(node);
      if (known !== undefined) { removed = known; break; }
      path.push(node);
      if (node.gone) { removed = true; break; }
    }
    for (const node of path) seen.set(node, removed);
    return removed;
  }

  /** This node itself was removed (not counting the directories above it). */
  protected get gone(): boolean {
    return this.detached;
  }

  /** A hidden node is left out of listings but can still be looked up (an empty class directory). */
  /** @internal */
  get hidden(): boolean {
    return false;
  }

  /** @internal */
  markRemoved(): void {
    this.detached = true;
    removals++;
  }

  /** The path below `ancestor`, e.g. `inner/value`. */
  /** @internal */
  pathFrom(ancestor: DirNode | null): string {
    const parts: string[] = [];
    for (let node: Node | null = this; node && node !== ancestor; node = node.parent) parts.push(node.name);
    return parts.reverse().join('/');
  }
}

/** A child a mirroring view is told of before its node is made: its name, and the id its node will have. */
export interface Entry {
  readonly name: string;
  readonly id: number;
}

/**
 * A view that mirrors the tree's structure (the mount), told of each change as it happens, so that
 * it never has to re-list a directory to find out what changed.
 */
export interface TreeObserver {
  added(parent: DirNode, child: Node): void;
  removed(parent: DirNode, child: Node): void;
  /**
   * A directory of live objects `name` was added under `parent` without its node (made when
   * `parent.child(name)` is asked, with id `id`): what an instance costs a mounted process stays small.
   */
  addedEntry(parent: DirNode, name: string, id: number): void;
  /** The entry told by addedEntry() went before its node was made. */
  removedEntry(id: number): void;
  /** `node.hidden` changed (an empty class directory). */
  hiddenChanged(node: Node): void;
}

/** A directory. Children are listed in insertion order. */
export class DirNode extends Node {
  readonly kind = 'dir';
  /** Made on the first add: directories of live objects (most of them) list their objects instead. */
  private entries: Map<string, Node> | null = null;
  /** Set on a root by a view that mirrors the tree (the mount). */
  /** @internal */
  observer?: TreeObserver;

  /** The statistics a series or histogram directory shows (the Prometheus view makes a summary). */
  /** @internal */
  statistics?: Series | Histogram;

  /** Its children are instances or elements (keys), not fields: the Prometheus view makes them labels. */
  /** @internal */
  get childrenAreKeys(): boolean {
    return false;
  }

  /** Its listing is worked out from live objects when asked (instances, collections), not kept. */
  /** @internal */
  get listsLiveObjects(): boolean {
    return false;
  }

  /** Its entries leave without telling (an array's or Map's elements): only reading a file finds out. */
  /** @internal */
  get elementsLeaveUntold(): boolean {
    return false;
  }

  /**
   * Brings the listing of a directory of live objects up to date with live objects that changed without telling
   * anyone (a field that now holds another object, an array that grew); the changes go to the observer.
   */
  /** @internal */
  refresh(): void {}

  /** The observer of the tree this directory is in, if it is mirrored. */
  /** @internal */
  observed(): TreeObserver | undefined {
    let root: DirNode = this;
    while (root.parent) root = root.parent;
    return root.observer;
  }

  /** @internal */
  child(name: string): Node | undefined {
    return this.entries?.get(name);
  }

  /** @internal */
  names(): string[] {
    const names: string[] = [];
    for (const [name, node] of this.entries ?? []) if (!node.hidden) names.push(name);
    return names;
  }

  /** The listed children; with `withHidden`, hidden ones too (a mirroring view must know them). */
  /** @internal */
  *children(withHidden = false): IterableIterator<Node> {
    for (const node of this.entries?.values() ?? []) if (withHidden || !node.hidden) yield node;
  }

  /**
   * What a mirroring view is told this directory holds: its children, hidden ones too, or for a
   * child whose node is not made yet (an instance's directory) its entry.
   */
  /** @internal */
  *announced(): IterableIterator<Node | Entry> {
    yield* this.children(true);
  }

  /** @internal */
  add<T extends Node>(node: T): T {
    if (this.entries?.has(node.name)) {
      throw new ProcstatError('EEXIST', `"${node.name}" already exists in ${this.describe()}; remove it first or pick another name`);
    }
    node.parent = this;
    (this.entries ??= new Map()).set(node.name, node);
    this.observed()?.added(this, node);
    return node;
  }

  /** @internal */
  delete(node: Node): void {
    if (this.entries?.get(node.name) === node) this.entries.delete(node.name);
    node.markRemoved();
    this.observed()?.removed(this, node);
  }

  /** @internal */
  describe(): string {
    return this.parent === null ? 'the root directory' : `directory "${this.pathFrom(null)}"`;
  }
}

/** What a file does when read or written; a file without `read` is write-only, without `write` read-only. */
export interface FileBehavior {
  /** The file's whole content, newline included; called once per open. */
  read?: () => string;
  /** Applies one written text; throws ProcstatError('EINVAL') and changes nothing when it is not valid. */
  write?: (text: string) => void;
  /** Aggregator files are left out of other aggregators. */
  aggregate?: boolean;
  /** The raw value behind the text, for views that are not files (the Prometheus exposition). */
  value?: () => unknown;
  /** The metric kind it was declared with (`@Counter`, `metric: 'counter'`); other values count as gauges. */
  metric?: MetricKind;
  /** What the value means, for people: `# HELP` in the Prometheus view, user.procstat.help on the mount. */
  help?: string;
  /** Its unit (`seconds`, `bytes`): part of the Prometheus name, user.procstat.unit on the mount. */
  unit?: string;
}


export class FileNode extends Node {
  readonly kind = 'file';

  constructor(name: string, /** @internal */ readonly behavior: FileBehavior) {
    super(name);
  }

  get readable(): boolean {
    return this.behavior.read !== undefined;
  }

  get writable(): boolean {
    return this.behavior.write !== undefined;
  }

  get fileKind(): FileKind {
    return this.writable ? 'parameter' : this.behavior.metric ?? 'stat';
  }

  /** 0444 read-only, 0644 parameter, 0200 write-only control (SPEC §4). */
  get permissions(): number {
    if (this.readable && this.writable) return 0o644;
    return this.writable ? 0o200 : 0o444;
  }
}

export type TreeNode = DirNode | FileNode;
