import { ClassSpec, FieldSpec, specOfInstance } from './class-spec';
import { ProcstatError } from './errors';
import { histogramDirectory, parameterFile, seriesDirectory, startEndDirectory, valueFile } from './files';
import { Histogram } from './histogram';
import { sanitizeName } from './names';
import { DirNode, Node } from './nodes';
import { synchronous } from './read';
import { Series } from './series';
import { StartEnd } from './start-end';

/**
 * Directories of live objects, resolved when they are looked up: registering an instance stores a
 * WeakRef and a key, nothing per field. A field's node is made on first lookup and reused while the
 * field holds the same object (or, for plain values, for good: the file reads the field live).
 */

/** What instance directories need from the registry that owns them. */
export interface InstanceRegistry {
  /** True once `release(obj)` was called. */
  isReleased(obj: object): boolean;
  /** A data field of `obj` holds a `@StatDir` object or a collection: which instances it shows matters to their class directories. */
  holds(obj: object): void;
}

/** The source of a cached file: the file reads its field live, whatever the value is now. */
const PLAIN_VALUE = Symbol('plain value');
/** The source of a cached array or Map directory: it reads its field live too, so a getter's fresh array is the same directory. */
const COLLECTION = Symbol('collection');

export function isCollection(value: unknown): value is unknown[] | Map<unknown, unknown> {
  return Array.isArray(value) || value instanceof Map;
}

/**
 * The entries of an array (by index) or a Map (by sanitized key) as they are shown: when two Map
 * keys sanitize to one name, the first element has it.
 */
export function elementsOf(collection: unknown[] | Map<unknown, unknown>): Array<[string, unknown]> {
  if (Array.isArray(collection)) return collection.map((value, index) => [String(index), value]);
  const byName = new Map<string, unknown>();
  for (const [key, value] of collection) {
    const name = sanitizeName(key);
    if (!byName.has(name)) byName.set(name, value);
  }
  return [...byName];
}

/**
 * What a cached node stands for. Directories of an object of their own (statistics, a `@StatDir`
 * object) stand for that object: another object needs another node. Anything else reads its field
 * live, so a getter that returns a new Date or array on every read keeps its node.
 */
function sourceOf(value: unknown): unknown {
  if (isCollection(value)) return COLLECTION;
  const ownDirectory = value instanceof Series || value instanceof Histogram || value instanceof StartEnd || specOfInstance(value);
  return ownDirectory ? value : PLAIN_VALUE;
}

/** True when `value` is the object `dir` or a directory above it shows: shown again below, a ring of objects would never end. */
function shownAbove(dir: DirNode, value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  for (let node: DirNode | null = dir; node; node = node.parent) if (node instanceof InstanceDir && node.ref.deref() === value) return true;
  return false;
}

/**
 * Caches a directory's children by name, rebuilding one when its field now holds another object.
 * A mirroring view is told of every node it builds, and of the one a rebuild replaces.
 */
class ChildCache {
  /** Made on first use: most instance directories are never looked into. */
  private nodes: Map<string, { source: unknown; node: Node }> | null = null;


  constructor(private readonly parent: DirNode) {}

  get(name: string, value: unknown, build: () => Node): Node {
    const source = sourceOf(value);
    const cached = this.nodes?.get(name);
    if (cached && cached.source === source) return cached.node;
    if (cached) this.forget(name);
    const node = build();
    node.parent = this.parent;
    (this.nodes ??= new Map()).set(name, { source, node });
    this.parent.observed()?.added(this.parent, node);
    return node;
  }

  /** Drops the node cached for `name` (its field changed, or its element left the collection). */
  forget(name: string): void {
    const cached = this.nodes?.get(name);
    if (!cached) return;
    this.nodes!.delete(name);
    cached.node.markRemoved();
    this.parent.observed()?.removed(this.parent, cached.node);
  }

  names(): IterableIterator<string> {
    return (this.nodes ?? new Map<string, never>()).keys();
  }

  /** True when the node cached for `name` is a directory of an object or collection (not a file). */
  standsForObject(name: string): boolean {
    const cached = this.nodes?.get(name);
    return cached !== undefined && cached.source !== PLAIN_VALUE;
  }
}

/** The node for a value: statistics and `@StatDir` objects are directories, collections a directory per element. */
function nodeForValue(name: string, value: unknown, read: () => unknown, registry: InstanceRegistry,
  field?: FieldSpec, write?: (value: unknown) => void): Node {
  if (value instanceof Series) return seriesDirectory(name, value);
  if (value instanceof Histogram) return histogramDirectory(name, value);
  if (value instanceof StartEnd) return startEndDirectory(name, value);
  const spec = specOfInstance(value);
  if (spec) return new InstanceDir(name, new WeakRef(value as object), spec, registry);
  if (isCollection(value)) return new CollectionDir(name, read, registry);
  if (field?.writable && write) {
    return parameterFile(name, {
      get: read, set: write, type: field.type ?? (value === undefined || value === null ? field.typeHint : undefined), min: field.min, max: field.max, validate: field.validate, format: field.format,
      help: field.help, unit: field.unit,
    });
  }
  const metric = field?.kind === 'counter' || field?.kind === 'gauge' ? field.kind : undefined;
  return valueFile(name, read, { format: field?.format, metric, help: field?.help, unit: field?.unit });
}

/** One `@StatDir` instance: a file or directory per decorated field. */
export class InstanceDir extends DirNode {
  private readonly cache = new ChildCache(this);

  constructor(name: string, readonly ref: WeakRef<object>, readonly spec: ClassSpec, private readonly registry: InstanceRegistry) {
    super(name);
  }

  protected override get gone(): boolean {
    const obj = this.ref.deref();
    return super.gone || obj === undefined || this.registry.isReleased(obj);
  }

  override get lazy(): boolean {
    return true;
  }

  private live(): any {
    const obj = this.ref.deref();
    if (obj === undefined || this.registry.isReleased(obj)) {
      throw new ProcstatError('ENOENT', `the ${this.spec.className} instance behind ${this.pathFrom(null)} is gone (released or collected)`);
    }
    return obj;
  }

  override child(name: string): Node | undefined {
    const field = this.spec.byName.get(name);
    if (!field || this.removed) return undefined;
    const read = () => this.live()[field.key];
    let value: unknown;
    try {
      value = synchronous(read());
    } catch {
      value = undefined; // a getter that throws or returns a Promise is a file; reading it gives EIO
    }
    if (shownAbove(this, value)) {
      this.cache.forget(name);
      return undefined;
    }
    const holder = this.ref.deref();
    if (holder && (isCollection(value) || specOfInstance(value)) && this.spec.dataKeys.includes(field.key)) this.registry.holds(holder);
    const write = (v: unknown) => { this.live()[field.key] = v; };
    return this.cache.get(name, value, () => nodeForValue(name, value, read, this.registry, field, write));
  }

  override names(): string[] {
    return this.removed ? [] : this.spec.fields.map((field) => field.name);
  }

  /**
   * Data fields are read again: one that now holds another object, or an object instead of a value,
   * gets another node. Getters are not: they are user code, run only when their file is read.
   */
  override refresh(): void {
    const obj: any = this.ref.deref();
    if (this.removed || obj === undefined) return;
    for (const field of this.spec.fields) {
      if (!this.spec.dataKeys.includes(field.key)) continue;
      const value = obj[field.key];
      // A number or string where a file stands changes nothing: the file reads the field live.
      if ((typeof value === 'object' && value !== null) || this.cache.standsForObject(field.name)) this.child(field.name);
    }
  }

  override *children(): IterableIterator<Node> {
    for (const name of this.names()) {
      const node = this.child(name);
      if (node) yield node;
    }
  }
}

/** An array or Map field: one entry per element, named by index or (sanitized) key. */
export class CollectionDir extends DirNode {
  private readonly cache = new ChildCache(this);

  constructor(name: string, private readonly read: () => unknown, private readonly registry: InstanceRegistry) {
    super(name);
  }

  override get lazy(): boolean {
    return true;
  }

  override get keyed(): boolean {
    return true;
  }

  private elements(): Array<[string, unknown]> {
    const collection = this.read();
    return isCollection(collection) ? elementsOf(collection) : [];
  }

  override child(name: string): Node | undefined {
    const entry = this.elements().find(([key]) => key === name);
    if (!entry || shownAbove(this, entry[1])) {
      this.cache.forget(name);
      return undefined;
    }
    const read = () => this.elements().find(([key]) => key === name)?.[1];
    return this.cache.get(name, entry[1], () => nodeForValue(name, entry[1], read, this.registry));
  }

  override names(): string[] {
    return this.elements().map(([key]) => key);
  }

  /** Elements that left the collection are removed; new and replaced ones are built (and announced). */
  override refresh(): void {
    if (this.removed) return;
    const elements = new Map(this.elements());
    for (const name of [...this.cache.names()]) if (!elements.has(name)) this.cache.forget(name);
    for (const name of elements.keys()) this.child(name);
  }

  override *children(): IterableIterator<Node> {
    for (const name of this.names()) {
      const node = this.child(name);
      if (node) yield node;
    }
  }
}

type Key = string | number;

/**
 * An instance's key, kept on the instance itself: non-enumerable, so it shows nowhere. Not a
 * WeakMap: V8 never shrinks a long-lived WeakMap's table after its keys die, so 100,000 released
 * instances would keep megabytes for good. Frozen or sealed objects fall back to a WeakMap.
 */
const KEY = Symbol('procstat.key');
const frozenKeys = new WeakMap<object, Key>();

function rememberKey(obj: object, key: Key): void {
  if (Object.isExtensible(obj)) Object.defineProperty(obj, KEY, { value: key, writable: true });
  else frozenKeys.set(obj, key);
}

function keyOfInstance(obj: object): Key | undefined {
  return (obj as { [KEY]?: Key })[KEY] ?? frozenKeys.get(obj);
}

/**
 * A `@StatDir` class's directory: one subdirectory per live, unreleased, top-level instance.
 * Per instance it keeps a WeakRef in a Map, keyed by sequence number or by the instance's key, and
 * the key in `shown` while the instance is listed here, or in `nested` while it is shown under
 * another instance instead (nesting.ts decides which); an InstanceDir is made only for instances
 * that are looked up, or that a mirroring view must be told about. Every change is one event.
 */
export class ClassDir extends DirNode {
  private instances = new Map<Key, WeakRef<object>>();
  /** The most entries `instances` has held since it was last rebuilt. */
  private peak = 0;
  private readonly dirs = new Map<Key, InstanceDir>();
  /** Keys of the instances listed here: live, not released, not shown nested in another instance. */
  private shown = new Set<Key>();
  /** Keys of the live, unreleased instances shown nested in another instance instead. */
  private nested = new Set<Key>();
  private readonly sequenced: boolean;
  private sequence = 0;
  /** A collected instance's entry is dropped, unless its key already belongs to a newer instance. */
  private readonly finalizer = new FinalizationRegistry<Key>((key) => {
    this.registry.collected(this.spec);
    if (this.instances.get(key)?.deref() === undefined) this.drop(key);
  });

  constructor(readonly spec: ClassSpec,
    private readonly registry: InstanceRegistry & { refreshOwnership(): void; collected(spec: ClassSpec): void }) {
    super(spec.dirName);
    this.sequenced = spec.options.key === undefined;
  }

  /** Adds an instance under its key: 0, 1, 2 … or its sanitized key, with -1, -2 … while that is taken. */
  addInstance(obj: object): void {
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
    rememberKey(obj, key);
    this.peak = Math.max(this.peak, this.instances.size);
    this.finalizer.register(obj, key);
    this.show(key); // just made: neither released nor nested yet
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
    this.nested.add(key);
  }

  /** Lists again every nested instance that `stillNested` no longer says is shown elsewhere. */
  unnest(stillNested: (obj: object) => boolean): void {
    for (const key of this.nested) {
      const obj = this.instances.get(key)?.deref();
      if (obj !== undefined && stillNested(obj)) continue;
      this.nested.delete(key);
      if (obj !== undefined && !this.registry.isReleased(obj)) this.show(key);
    }
  }

  /** True when `obj` is one of this class's registered instances (listed, or nested for now). */
  has(obj: object): boolean {
    return this.keyOfListed(obj) !== undefined;
  }

  /** The key of `obj` if this directory has it (it may be registered elsewhere, or replaced by a newer instance). */
  private keyOfListed(obj: object): Key | undefined {
    const key = keyOfInstance(obj);
    return key !== undefined && this.instances.get(key)?.deref() === obj ? key : undefined;
  }

  private show(key: Key): void {
    this.shown.add(key);
    const observer = this.observed();
    if (!observer) return;
    observer.added(this, this.dirFor(key)!);
    if (this.shown.size === 1) observer.hiddenChanged(this);
  }

  private unshow(key: Key): void {
    if (!this.shown.delete(key)) return;
    const dir = this.dirs.get(key);
    this.dirs.delete(key);
    dir?.markRemoved();
    const observer = this.observed();
    if (dir) observer?.removed(this, dir);
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
    // A Map or Set never gives back the memory of deleted entries: rebuild them once mostly empty.
    if (this.peak > 1024 && this.instances.size * 4 < this.peak) {
      this.instances = new Map(this.instances);
      this.shown = new Set(this.shown);
      this.nested = new Set(this.nested);
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
    if (!dir) {
      dir = new InstanceDir(String(key), ref, this.spec, this.registry);
      dir.parent = this;
      this.dirs.set(key, dir);
    }
    return dir;
  }

  override child(name: string): Node | undefined {
    return this.dirFor(this.keyFor(name));
  }

  override names(): string[] {
    this.registry.refreshOwnership();
    const names: string[] = [];
    for (const key of this.shown) if (this.instances.get(key)?.deref() !== undefined) names.push(String(key));
    return names;
  }

  /** An instance listed when the walk began may be nested by the time it is reached (a view walks other classes meanwhile). */
  override *children(): IterableIterator<Node> {
    for (const name of this.names()) {
      const node = this.child(name);
      if (node) yield node;
    }
  }

  override get keyed(): boolean {
    return true;
  }

  /** An empty class directory is left out of its parent's listing. */
  override get hidden(): boolean {
    return this.shown.size === 0;
  }
}
