import { ClassSpec, FieldSpec, specOfInstance } from './class-spec';
import { ProcstatError } from './errors';
import { histogramDirectory, parameterFile, seriesDirectory, startEndDirectory, valueFile } from './files';
import { Histogram } from './histogram';
import { sanitizeName } from './names';
import { DirNode, Node } from './nodes';
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
  /** Marks a `@StatDir` object as shown nested in another's directory, so not at the top level. */
  own(obj: object): void;
}

const PLAIN_VALUE = Symbol('plain value');

function isCollection(value: unknown): value is unknown[] | Map<unknown, unknown> {
  return Array.isArray(value) || value instanceof Map;
}

/** Caches a directory's children by name, rebuilding one when its field now holds another object. */
class ChildCache {
  private readonly nodes = new Map<string, { source: unknown; node: Node }>();

  constructor(private readonly parent: DirNode) {}

  get(name: string, value: unknown, build: () => Node): Node {
    const source = typeof value === 'object' && value !== null ? value : PLAIN_VALUE;
    const cached = this.nodes.get(name);
    if (cached && cached.source === source) return cached.node;
    cached?.node.markRemoved();
    const node = build();
    node.parent = this.parent;
    this.nodes.set(name, { source, node });
    return node;
  }
}

/** The node for a value: statistics and `@StatDir` objects are directories, collections a directory per element. */
function nodeForValue(name: string, value: unknown, read: () => unknown, registry: InstanceRegistry,
  field?: FieldSpec, write?: (value: unknown) => void): Node {
  if (value instanceof Series) return seriesDirectory(name, value);
  if (value instanceof Histogram) return histogramDirectory(name, value);
  if (value instanceof StartEnd) return startEndDirectory(name, value);
  const spec = specOfInstance(value);
  if (spec) {
    registry.own(value as object);
    return new InstanceDir(name, new WeakRef(value as object), spec, registry);
  }
  if (isCollection(value)) return new CollectionDir(name, read, registry);
  if (field?.writable && write) {
    return parameterFile(name, {
      get: read, set: write, type: field.type ?? (value === undefined || value === null ? field.typeHint : undefined), min: field.min, max: field.max, validate: field.validate, format: field.format,
    });
  }
  return valueFile(name, read, field?.format);
}

/** One `@StatDir` instance: a file or directory per decorated field. */
export class InstanceDir extends DirNode {
  private readonly cache = new ChildCache(this);

  constructor(name: string, readonly ref: WeakRef<object>, readonly spec: ClassSpec, private readonly registry: InstanceRegistry) {
    super(name);
  }

  override get removed(): boolean {
    const obj = this.ref.deref();
    return super.removed || obj === undefined || this.registry.isReleased(obj);
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
    const value = this.live()[field.key];
    const read = () => this.live()[field.key];
    const write = (v: unknown) => { this.live()[field.key] = v; };
    return this.cache.get(name, value, () => nodeForValue(name, value, read, this.registry, field, write));
  }

  override names(): string[] {
    return this.removed ? [] : this.spec.fields.map((field) => field.name);
  }

  override *children(): IterableIterator<Node> {
    for (const name of this.names()) {
      const node = this.child(name);
      if (node) yield node;
    }
  }
}

/** An array or Map field: one entry per element, named by index or (sanitized) key. */
class CollectionDir extends DirNode {
  private readonly cache = new ChildCache(this);

  constructor(name: string, private readonly read: () => unknown, private readonly registry: InstanceRegistry) {
    super(name);
  }

  private elements(): Array<[string, unknown]> {
    const collection = this.read();
    if (Array.isArray(collection)) return collection.map((value, index) => [String(index), value]);
    if (collection instanceof Map) return [...collection].map(([key, value]) => [sanitizeName(key), value]);
    return [];
  }

  override child(name: string): Node | undefined {
    const entry = this.elements().find(([key]) => key === name);
    if (!entry) return undefined;
    const read = () => this.elements().find(([key]) => key === name)?.[1];
    return this.cache.get(name, entry[1], () => nodeForValue(name, entry[1], read, this.registry));
  }

  override names(): string[] {
    return this.elements().map(([key]) => key);
  }

  override *children(): IterableIterator<Node> {
    for (const name of this.names()) {
      const node = this.child(name);
      if (node) yield node;
    }
  }
}

interface Registration {
  readonly ref: WeakRef<object>;
  dir?: InstanceDir;
}

/** A `@StatDir` class's directory: one subdirectory per live, unreleased, top-level instance. */
export class ClassDir extends DirNode {
  private readonly instances = new Map<string, Registration>();
  private sequence = 0;
  /** A collected instance's entry is dropped, unless its key already belongs to a newer instance. */
  private readonly finalizer = new FinalizationRegistry<string>((key) => {
    if (this.instances.get(key)?.ref.deref() === undefined) this.instances.delete(key);
  });

  constructor(readonly spec: ClassSpec, private readonly registry: InstanceRegistry & { isOwned(obj: object): boolean; refreshOwnership(): void }) {
    super(spec.dirName);
  }

  /** Adds an instance under its key (sanitized; a taken key gets a -1, -2 … suffix). */
  addInstance(obj: object): string {
    const base = this.keyOf(obj);
    let key = base;
    for (let n = 1; this.instances.has(key); n++) key = `${base}-${n}`;
    this.instances.set(key, { ref: new WeakRef(obj) });
    this.finalizer.register(obj, key);
    return key;
  }

  forget(key: string): void {
    this.instances.get(key)?.dir?.markRemoved();
    this.instances.delete(key);
  }

  private keyOf(obj: any): string {
    const { key } = this.spec.options;
    if (key === undefined) return String(this.sequence++);
    return sanitizeName(typeof key === 'function' ? key(obj) : obj[key]);
  }

  private visible(registration: Registration): boolean {
    const obj = registration.ref.deref();
    return obj !== undefined && !this.registry.isReleased(obj) && !this.registry.isOwned(obj);
  }

  override child(name: string): Node | undefined {
    const registration = this.instances.get(name);
    if (!registration || !this.visible(registration)) return undefined;
    if (!registration.dir) {
      registration.dir = new InstanceDir(name, registration.ref, this.spec, this.registry);
      registration.dir.parent = this;
    }
    return registration.dir;
  }

  override names(): string[] {
    this.registry.refreshOwnership();
    const names: string[] = [];
    for (const [name, registration] of this.instances) if (this.visible(registration)) names.push(name);
    return names;
  }

  override *children(): IterableIterator<Node> {
    for (const name of this.names()) yield this.child(name)!;
  }

  /** An empty class directory is left out of its parent's listing. */
  override get hidden(): boolean {
    return this.names().length === 0;
  }
}
