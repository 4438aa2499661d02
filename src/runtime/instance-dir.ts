import { ClassSpec, FieldSpec, specOfInstance } from './class-spec';
import { ChildCache } from './child-cache';
import { elementsOf, isCollection } from './collections';
import { ProcstatError } from './errors';
import { Histogram } from './histogram';
import { histogramDirectory, parameterFile, seriesDirectory, startEndDirectory, valueFile } from './items';
import { DirNode, metricOf, Node } from './nodes';
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
  /** The one WeakRef its class directory keeps for `obj`, if this tree registered it: its directories all hold that one. */
  refOf(obj: object): WeakRef<object> | undefined;
}
/**
 * True when `value` is the object `dir` or a directory above it shows: shown again below, a ring of
 * objects would never end. Directories of a registered instance hold its one WeakRef, so most of
 * them are told apart without WeakRef.deref() (which costs a deep tree's every lookup dearly).
 */
function shownAbove(dir: DirNode, value: unknown, registry: InstanceRegistry): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const ref = registry.refOf(value);
  for (let node: DirNode | null = dir; node; node = node.parent) {
    if (node instanceof InstanceDir && (node.ref === ref || (!node.sharedRef && node.ref.deref() === value))) return true;
  }
  return false;
}
/** Stands for a getter's value, not read: a plain value, whose type a parameter infers when written. */
const GETTER_VALUE = 0;

/** The node for a value: statistics and `@StatDir` objects are directories, collections a directory per element. */
function nodeForValue(name: string, value: unknown, read: () => unknown, registry: InstanceRegistry,
  field?: FieldSpec, write?: (value: unknown) => void): Node {
  if (value instanceof Series) return seriesDirectory(name, value);
  if (value instanceof Histogram) return histogramDirectory(name, value);
  if (value instanceof StartEnd) return startEndDirectory(name, value);
  const spec = specOfInstance(value);
  if (spec) return new InstanceDir(name, registry.refOf(value as object) ?? new WeakRef(value as object), spec, registry);
  if (isCollection(value)) return new CollectionDir(name, read, registry);
  if (field?.kind === 'parameter' && write) {
    return parameterFile(name, {
      get: read, set: write, type: field.type ?? (value === undefined || value === null ? field.typeHint : undefined), min: field.min, max: field.max, validate: field.validate, format: field.format,
      help: field.help, unit: field.unit,
    });
  }
  return valueFile(name, read, { format: field?.format, metric: field && metricOf(field.kind), help: field?.help, unit: field?.unit });
}

/** One `@StatDir` instance: a file or directory per decorated field. */
export class InstanceDir extends DirNode {
  private readonly cache = new ChildCache(this);
  /** `ref` is the one its class directory keeps (InstanceRegistry.refOf), not one of its own. */
  readonly sharedRef: boolean;

  /** `id`: the one a mirroring view was told for this directory before it was made (ClassDir.show). */
  constructor(name: string, readonly ref: WeakRef<object>, readonly spec: ClassSpec, private readonly registry: InstanceRegistry, id?: number) {
    super(name);
    if (id !== undefined) (this as { id: number }).id = id;
    const obj = ref.deref();
    this.sharedRef = obj !== undefined && registry.refOf(obj) === ref;
  }

  protected override get gone(): boolean {
    const obj = this.ref.deref();
    return super.gone || obj === undefined || this.registry.isReleased(obj);
  }

  override get listsLiveObjects(): boolean {
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
    const write = (v: unknown) => { this.live()[field.key] = v; };
    if (field.kind !== 'stat' && !this.spec.dataKeys.includes(field.key)) {
      // A @Counter, @Gauge or @Parameter getter is a file by its kind: it runs when that file is read, not when its directory is listed.
      return this.cache.get(name, GETTER_VALUE, () => nodeForValue(name, GETTER_VALUE, read, this.registry, field, write));
    }
    let value: unknown;
    try {
      value = synchronous(read());
    } catch {
      value = undefined; // a getter that throws or returns a Promise is a file; reading it gives EIO
    }
    if (shownAbove(this, value, this.registry)) {
      this.cache.forget(name);
      return undefined;
    }
    const holder = this.ref.deref();
    if (holder && (isCollection(value) || specOfInstance(value)) && this.spec.dataKeys.includes(field.key)) this.registry.holds(holder);
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
    // Its own state only: the caller knows that the directories above are there (Publisher.refreshSome),
    // and looking at all of them would cost as much as the tree is deep, each round.
    if (this.gone || obj === undefined) return;
    for (const field of this.spec.fields) {
      if (!this.spec.dataKeys.includes(field.key)) continue;
      const value = obj[field.key];
      // A number or string where a file stands changes nothing: the file reads the field live. Nor does
      // the object a directory already stands for (child() would look at every directory above: deep trees).
      if (this.cache.standsFor(field.name, value)) continue;
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

  override get listsLiveObjects(): boolean {
    return true;
  }

  override get elementsLeaveUntold(): boolean {
    return true;
  }

  override get childrenAreKeys(): boolean {
    return true;
  }

  private elements(): Array<[string, unknown]> {
    const collection = this.read();
    return isCollection(collection) ? elementsOf(collection) : [];
  }

  override child(name: string): Node | undefined {
    const entry = this.elements().find(([key]) => key === name);
    if (!entry || shownAbove(this, entry[1], this.registry)) {
      this.cache.forget(name);
      return undefined;
    }
    const read = () => {
      const current = this.elements().find(([key]) => key === name);
      if (!current) throw new ProcstatError('ENOENT', `${this.pathFrom(null)}/${name} is gone: its element left the ${this.name} collection`);
      return current[1];
    };
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
