import { EventEmitter } from 'events';
import type { IncomingMessage, ServerResponse } from 'http';
import { aggregatorFile } from './aggregator';
import { ProcstatError } from './errors';
import { histogramDirectory, parameterFile, ParameterOptions, seriesDirectory, StartEndSource, startEndDirectory, valueFile, ValueOptions } from './files';
import { ValueFormat } from './format';
import { Histogram } from './histogram';
import { ClassSpec, specOfInstance } from './class-spec';
import { Census } from './census';
import { ClassDir, InstanceDir } from './instances';
import { checkName } from './names';
import { addProcessMetrics } from './process-metrics';
import { collect, Exposition } from './prometheus';
import { FileReader, ReadAs, readFile } from './read';
import { DirNode, FileNode, Node, TreeNode } from './nodes';
import { Series } from './series';
import { StartEnd } from './start-end';

/** Marks an object released by `release()`; non-enumerable, so it shows nowhere. */
const RELEASED = Symbol('procstat.released');

/** A directory item, or `null` for the root. */
export type Parent = DirNode | null;
/** Anything the imperative API returns and `remove` takes. */
export type Item = Node | Series | Histogram;


/**
 * The stats tree and the imperative API of the C library (SPEC §3.2), without any FUSE: a view
 * (the mount) reads it through `readFile`/`writeFile`.
 */
export class StatsTree extends EventEmitter {
  /** @internal */
  readonly root = new DirNode('');
  /** Series and histograms are returned as themselves; this finds their directories. */
  private readonly directories = new WeakMap<Series | Histogram, DirNode>();
  /** Getter failures are reported once per file, not once per read; other problems once per key. */
  private readonly reported = new WeakSet<FileNode>();
  private readonly reportedKeys = new Set<string>();
  private readonly classDirs = new Map<ClassSpec, ClassDir>();
  /** Released objects that cannot take the RELEASED mark (frozen, sealed). */
  private readonly releasedFrozen = new WeakSet<object>();
  private readonly owned = new WeakSet<object>();
  /** Instances with array or Map fields: their elements are re-checked for ownership before listings. */
  private readonly containers = new Set<WeakRef<object>>();
  private readonly census = new Census(this.root);

  /**
   * Shows a `@StatDir` instance (decorated classes call this when their constructor finishes). Holds it
   * weakly: its directory disappears when it is released or collected.
   */
  /** @internal */
  register(obj: object, spec: ClassSpec | undefined = specOfInstance(obj)): void {
    if (!spec) throw new ProcstatError('EINVAL', `register: ${obj?.constructor?.name ?? typeof obj} is not a @StatDir class`);
    this.census.created(spec);
    this.scanFields(obj, spec, true);
    if (!spec.options.singleton) {
      this.classDirFor(spec).addInstance(obj);
      return;
    }
    const previous = this.root.child(spec.dirName);
    if (previous instanceof InstanceDir) this.root.delete(previous);
    this.root.add(new InstanceDir(spec.dirName, new WeakRef(obj), spec, this));
  }

  /**
   * Removes an instance's directory now, without waiting for garbage collection. (Its registry
   * entry goes when the object is collected, or when a new instance takes its key.)
   */
  release(obj: object): void {
    // A mark on the object itself, not a WeakSet entry: V8 never shrinks a long-lived WeakSet's table
    // after its keys die, so releasing 100,000 objects through one would keep megabytes for good.
    const spec = specOfInstance(obj);
    if (spec && !this.isReleased(obj)) this.census.released(spec);
    if (Object.isExtensible(obj)) Object.defineProperty(obj, RELEASED, { value: true });
    else this.releasedFrozen.add(obj);
    this.classDirOf(obj)?.hide(obj);
    const singleton = specOfInstance(obj)?.options.singleton ? this.root.child(specOfInstance(obj)!.dirName) : undefined;
    if (singleton instanceof InstanceDir && singleton.ref.deref() === obj) this.root.delete(singleton);
  }

  /** A registered instance was garbage-collected (its class directory's finalizer says so). */
  /** @internal */
  collected(spec: ClassSpec): void {
    this.census.collected(spec);
  }

  /** @internal */
  isReleased(obj: object): boolean {
    return (obj as { [RELEASED]?: boolean })[RELEASED] === true || this.releasedFrozen.has(obj);
  }

  /** @internal */
  isOwned(obj: object): boolean {
    return this.owned.has(obj);
  }

  /** @internal */
  own(obj: object): void {
    if (this.owned.has(obj)) return;
    this.owned.add(obj);
    this.classDirOf(obj)?.hide(obj);
  }

  private classDirOf(obj: object): ClassDir | undefined {
    const spec = specOfInstance(obj);
    return spec && this.classDirs.get(spec);
  }

  /** @internal */
  refreshOwnership(): void {
    for (const ref of this.containers) {
      const obj = ref.deref();
      if (obj === undefined || this.isReleased(obj)) this.containers.delete(ref);
      else this.scanFields(obj, specOfInstance(obj)!, false);
    }
  }

  /**
   * Marks `@StatDir` objects held in the fields of `obj` as nested (shown under `obj`, not at the
   * top level). Reads own data properties only: a getter is user code, run only when a file is read.
   */
  private scanFields(obj: object, spec: ClassSpec, registering: boolean): void {
    let container = false;
    for (const key of spec.dataKeys) {
      const value = (obj as any)[key];
      if (typeof value !== 'object' || value === null) continue;
      if (specOfInstance(value)) this.own(value);
      if (Array.isArray(value) || value instanceof Map) {
        container = true;
        for (const element of value.values()) if (specOfInstance(element)) this.own(element);
      }
    }
    if (container && registering) this.containers.add(new WeakRef(obj));
  }

  private classDirFor(spec: ClassSpec): ClassDir {
    let dir = this.classDirs.get(spec);
    if (!dir) {
      const taken = this.root.child(spec.dirName);
      if (taken) {
        throw new ProcstatError('EEXIST', `@StatDir ${spec.className}: "${spec.dirName}" already exists at the mount root; ` +
          `give the class another name with @StatDir({ name: '…' })`);
      }
      dir = this.root.add(new ClassDir(spec, this));
      this.classDirs.set(spec, dir);
    }
    return dir;
  }

  createDirectory(parent: Parent, name: string): DirNode {
    return this.attach(parent, new DirNode(checkName(name, 'createDirectory')));
  }

  createValue(parent: Parent, name: string, get: () => unknown, options: ValueOptions = {}): FileNode {
    return this.attach(parent, valueFile(checkName(name, 'createValue'), get, options));
  }

  createParameter<T>(parent: Parent, name: string, options: ParameterOptions<T>): FileNode {
    return this.attach(parent, parameterFile(checkName(name, 'createParameter'), options));
  }

  createSeries(parent: Parent, name: string): Series {
    const series = new Series();
    this.directories.set(series, this.attach(parent, seriesDirectory(checkName(name, 'createSeries'), series)));
    return series;
  }

  createHistogram(parent: Parent, name: string, fractions: readonly number[]): Histogram {
    const histogram = new Histogram(fractions);
    this.directories.set(histogram, this.attach(parent, histogramDirectory(checkName(name, 'createHistogram'), histogram)));
    return histogram;
  }

  createStartEnd(parent: Parent, name: string, source: StartEndSource | StartEnd): DirNode {
    return this.attach(parent, startEndDirectory(checkName(name, 'createStartEnd'), source));
  }

  createAggregator(parent: Parent, name: string): FileNode {
    const dir = this.dirOf(parent);
    return this.attach(parent, aggregatorFile(checkName(name, 'createAggregator'), dir, this));
  }

  /** The item at `name` below `parent`; `name` may be a path such as `outer-0/inner-3/value-6`. */
  lookup(parent: Parent, name: string): TreeNode | undefined {
    let node: Node | undefined = this.dirOf(parent);
    for (const part of name.split('/')) {
      if (part === '') continue;
      node = node instanceof DirNode ? node.child(part) : undefined;
    }
    return node as TreeNode | undefined;
  }

  remove(item: Item): void {
    const node = item instanceof Node ? item : this.directories.get(item);
    if (!node || !node.parent || node.removed) {
      throw new ProcstatError('ENOENT', 'remove: the item is not in the tree (already removed?)');
    }
    node.parent.delete(node);
  }

  removeByName(parent: Parent, name: string): void {
    const node = this.lookup(parent, name);
    if (!node) throw new ProcstatError('ENOENT', `removeByName: "${name}" does not exist in ${this.dirOf(parent).describe()}`);
    this.remove(node);
  }

  /**
   * Adds `process/`: uptime, CPU, memory, event-loop delay and utilisation, GC by kind, active
   * resources by type, open file descriptors. Once per context.
   */
  collectDefaultMetrics(): void {
    if (this.root.child('process')) return;
    addProcessMetrics(this, this);
  }

  /** The whole tree in the Prometheus text format (see prometheus.ts for the mapping). */
  metrics(options: { prefix?: string } = {}): string {
    return this.collectMetrics(options).text();
  }

  /** The metric families behind `metrics()` (the prom-client adapter uses them). */
  collectMetrics(options: { prefix?: string } = {}): Exposition {
    return collect(this.root, { prefix: options.prefix, reader: this, report: (key, error) => this.reportOnce(key, error) });
  }

  /** A `node:http` request handler that serves `metrics()`: `http.createServer(ctx.metricsHandler())`. */
  metricsHandler(options: { prefix?: string } = {}): (req: IncomingMessage, res: ServerResponse) => void {
    return (req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(this.metrics(options));
    };
  }

  /**
   * A file's content for a view, or with `'value'` its raw value (the Prometheus view): every view
   * reads through here (read.ts). A getter that throws is EIO, reported once through 'error'.
   */
  /** @internal */
  readFile(file: FileNode): string;
  /** @internal */
  readFile(file: FileNode, as: 'value'): unknown;
  /** @internal */
  readFile(file: FileNode, as: ReadAs = 'text'): unknown {
    return readFile(file, as, (failed, error) => this.reportOnce(failed, error));
  }

  /** Applies a write from a view; throws ProcstatError EINVAL (value unchanged) when it is refused. */
  /** @internal */
  writeFile(file: FileNode, text: string): void {
    file.behavior.write!(text);
  }

  /**
   * Reports a problem of a view once per key (a file, or a string naming the problem): through the
   * 'error' event, or a process warning when nothing listens.
   */
  /** @internal */
  reportOnce(key: FileNode | string, error: ProcstatError): void {
    if (typeof key === 'string' ? this.reportedKeys.has(key) : this.reported.has(key)) return;
    if (typeof key === 'string') this.reportedKeys.add(key);
    else this.reported.add(key);
    // An 'error' event without a listener would throw and crash the service; warn instead.
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else process.emitWarning(error.message, 'ProcstatWarning');
  }

  private dirOf(parent: Parent): DirNode {
    if (parent === null || parent === undefined) return this.root;
    if (!(parent instanceof DirNode) || parent.removed) {
      throw new ProcstatError('ENOENT', 'the parent is not a directory of this tree (removed, or not a directory item)');
    }
    return parent;
  }

  private attach<T extends Node>(parent: Parent, node: T): T {
    return this.dirOf(parent).add(node);
  }
}
