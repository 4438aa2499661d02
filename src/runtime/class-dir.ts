import { ClassSpec } from './class-spec';
import { InstanceDir, InstanceRegistry } from './instance-dir';
import { IntTable, Table } from './int-table';
import { sanitizeName } from './names';
import { DirNode, Entry, Node, reserveNodeId } from './nodes';
import { ObjectSlot } from './object-slot';

/** What a class directory needs from its registry, beyond what its instances' directories need. */
export interface ClassRegistry extends InstanceRegistry {
  /** Re-reads the fields that hold instances, so that a listing shows each where it is now (nesting.ts). */
  updateNesting(): void;
  /** A registered instance was garbage-collected (the census counts it). */
  collected(spec: ClassSpec): void;
}

type Key = string | number;

/** An instance's key in its class directory, kept on the instance (object-slot.ts). */
const keys = new ObjectSlot<Key>();

/** Tables by key: by sequence number in chunks (int-table.ts: no table-wide rebuilds under churn), by key in a Map. */
function tableFor<V>(sequenced: boolean): Table<Key, V> {
  return sequenced ? new IntTable<V>() : new Map<Key, V>();
}

/**
 * A `@StatDir` class's directory: one subdirectory per live, unreleased, top-level instance.
 * Per instance it keeps a WeakRef, keyed by sequence number or by the instance's key, and the key
 * in `shown` while the instance is listed here, or in `nested` while it is shown under another
 * instance instead (nesting.ts decides which); an InstanceDir is made only for instances that are
 * looked up: a mirroring view is told a name and an id. Every change is one event.
 */
export class ClassDir extends DirNode {
  private instances: Table<Key, WeakRef<object>>;
  /** The most entries `instances` has held since it was last rebuilt. */
  private peak = 0;
  /** Listed instances' directories once made; before that, the id a mirroring view was told (show()). */
  private readonly dirs: Table<Key, InstanceDir | number>;
  /** Keys of the instances listed here: live, not released, not shown nested in another instance. */
  private shown: Table<Key, true>;
  /** Keys of the live, unreleased instances shown nested in another instance instead. */
  private nested: Table<Key, true>;
  private readonly sequenced: boolean;
  private sequence = 0;
  /** A collected instance's entry is dropped, unless its key already belongs to a newer instance. */
  private readonly finalizer = new FinalizationRegistry<Key>((key) => {
    this.registry.collected(this.spec);
    if (this.instances.get(key)?.deref() === undefined) this.drop(key);
  });

  constructor(readonly spec: ClassSpec,
    private readonly registry: ClassRegistry) {
    super(spec.dirName);
    this.sequenced = spec.options.key === undefined;
    this.instances = tableFor(this.sequenced);
    this.dirs = tableFor(this.sequenced);
    this.shown = tableFor(this.sequenced);
    this.nested = tableFor(this.sequenced);
  }

  /** Adds an instance under its key: 0, 1, 2 … or its sanitized key, with -1, -2 … while that is taken. False if it is here already. */
  addInstance(obj: object): boolean {
    if (this.has(obj)) return false;
    let key: Key;
    if (this.sequenced) {
      key = this.sequence++;
    } else {
      const base = this.keyOf(obj);
      key = base;
      for (let n = 1; this.taken(key); n++) key = `${base}-${n}`;
      this.drop(key);
    }
    this.instances.set(key, new WeakRef(obj));
    keys.set(obj, key);
    this.peak = Math.max(this.peak, this.instances.size);
    this.finalizer.register(obj, key);
    this.show(key); // just made: neither released nor nested yet
    return true;
  }

  /** Takes a released instance out of the listing, for good. */
  hide(obj: object): void {
    const key = this.keyOfListed(obj);
    if (key === undefined) return;
    this.unshow(key);
    this.nested.delete(key);
  }

  /** Takes a listed instance out of the listing while it is shown nested in another instance. */
  nest(obj: object): void {
    const key = this.keyOfListed(obj);
    if (key === undefined || !this.shown.has(key)) return;
    this.unshow(key);
    this.nested.set(key, true);
  }

  /** Lists again every nested instance that `stillNested` no longer says is shown elsewhere. */
  unnest(stillNested: (obj: object) => boolean): void {
    for (const key of this.nested.keys()) {
      const obj = this.instances.get(key)?.deref();
      if (obj !== undefined && stillNested(obj)) continue;
      this.nested.delete(key);
      if (obj !== undefined && !this.registry.isReleased(obj)) this.show(key);
    }
  }

  /** The WeakRef kept for `obj`, if it is one of this class's registered instances. */
  refOf(obj: object): WeakRef<object> | undefined {
    const key = keys.get(obj);
    const ref = key === undefined ? undefined : this.instances.get(key);
    return ref?.deref() === obj ? ref : undefined;
  }

  /** Whether `obj`'s key is among the nested ones (a released instance's key may be a newer one's: nest() would not list it anyway). */
  isNested(obj: object): boolean {
    const key = keys.get(obj);
    return key !== undefined && this.nested.has(key);
  }

  /** Lists `obj` again if it is nested (and not released): nothing shows it elsewhere any more. */
  unnestOne(obj: object): void {
    const key = this.keyOfListed(obj);
    if (key === undefined || !this.nested.delete(key)) return;
    if (!this.registry.isReleased(obj)) this.show(key);
  }

  /** True when `obj` is one of this class's registered instances (listed, or nested for now). */
  has(obj: object): boolean {
    return this.keyOfListed(obj) !== undefined;
  }

  /** The key of `obj` if this directory has it (it may be registered elsewhere, or replaced by a newer instance). */
  private keyOfListed(obj: object): Key | undefined {
    const key = keys.get(obj);
    return key !== undefined && this.instances.get(key)?.deref() === obj ? key : undefined;
  }

  private show(key: Key): void {
    this.shown.set(key, true);
    const observer = this.observed();
    if (!observer) return;
    const id = reserveNodeId();
    this.dirs.set(key, id);
    observer.addedEntry(this, String(key), id);
    if (this.shown.size === 1) observer.hiddenChanged(this);
  }

  private unshow(key: Key): void {
    if (!this.shown.delete(key)) return;
    const dir = this.dirs.get(key);
    this.dirs.delete(key);
    const observer = this.observed();
    if (dir instanceof InstanceDir) {
      dir.markRemoved();
      observer?.removed(this, dir);
    } else if (dir !== undefined) {
      observer?.removedEntry(dir);
    }
    if (this.shown.size === 0) observer?.hiddenChanged(this);
  }

  private keyOf(obj: any): string {
    const { key } = this.spec.options;
    return sanitizeName(typeof key === 'function' ? key(obj) : obj[key as string]);
  }

  /** A key is free again once its instance is released or collected. */
  private taken(key: Key): boolean {
    const obj = this.instances.get(key)?.deref();
    return obj !== undefined && !this.registry.isReleased(obj);
  }

  private drop(key: Key): void {
    this.unshow(key);
    this.nested.delete(key);
    this.instances.delete(key);
    // A keyed class's Maps keep the memory of deleted entries: rebuilt once mostly empty.
    if (!this.sequenced && this.peak > 1024 && this.instances.size * 4 < this.peak) {
      this.instances = new Map(this.instances.entries());
      this.shown = new Map(this.shown.entries());
      this.nested = new Map(this.nested.entries());
      this.peak = this.instances.size;
    }
  }

  private keyFor(name: string): Key {
    if (!this.sequenced) return name;
    const n = Number(name);
    return String(n) === name ? n : name;
  }

  /** The directory of a listed instance, made on first use. */
  private dirFor(key: Key): InstanceDir | undefined {
    const ref = this.instances.get(key);
    if (!ref || !this.shown.has(key) || ref.deref() === undefined) return undefined;
    let dir = this.dirs.get(key);
    if (!(dir instanceof InstanceDir)) {
      dir = new InstanceDir(String(key), ref, this.spec, this.registry, dir);
      dir.parent = this;
      this.dirs.set(key, dir);
    }
    return dir;
  }

  override child(name: string): Node | undefined {
    return this.dirFor(this.keyFor(name));
  }

  override names(): string[] {
    this.registry.updateNesting();
    const names: string[] = [];
    for (const key of this.shown.keys()) if (this.instances.get(key)?.deref() !== undefined) names.push(String(key));
    return names;
  }

  /** An instance listed when the walk began may be nested by the time it is reached (a view walks other classes meanwhile). */
  override *children(): IterableIterator<Node> {
    for (const name of this.names()) {
      const node = this.child(name);
      if (node) yield node;
    }
  }

  /** Entries for instances whose directory is not made: mounting 100,000 instances makes no node for each. */
  override *announced(): IterableIterator<InstanceDir | Entry> {
    this.registry.updateNesting();
    for (const key of this.shown.keys()) {
      if (this.instances.get(key)?.deref() === undefined) continue;
      let dir = this.dirs.get(key);
      if (dir === undefined) {
        dir = reserveNodeId();
        this.dirs.set(key, dir);
      }
      yield typeof dir === 'number' ? { name: String(key), id: dir } : dir;
    }
  }

  override get childrenAreKeys(): boolean {
    return true;
  }

  /** An empty class directory is left out of its parent's listing. */
  override get hidden(): boolean {
    return this.shown.size === 0;
  }
}
