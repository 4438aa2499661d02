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
import { Nesting } from './nesting';
import { ObjectFlag } from './object-flag';
import { addProcessMetrics } from './process-metrics';
import { collect, Exposition } from './prometheus';
import { FileReader, ReadAs, readFile } from './read';
import { DirNode, FileNode, Node, TreeNode } from './nodes';
import { Series } from './series';
import { StartEnd } from './start-end';

/** Marks an object released by `release()`, in every tree it is registered in. */
const released = new ObjectFlag('procstat.released');

/** A directory item, or `null` for the root. */
export type Parent = DirNode | null;
/** Anything the imperative API returns and `remove` takes. */
export type Item = Node | Series | Histogram;


/**
 * The root directory. Listing it first brings the class directories up to date: one left out of the
 * listing because all its instances were shown nested may have an instance to list again.
 */
class RootDir extends DirNode {
  constructor(private readonly update: () => void) {
    super('');
  }

  override names(): string[] {
    this.update();
    return super.names();
  }

  override *children(withHidden = false): IterableIterator<Node> {
    this.update();
    yield* super.children(withHidden);
  }
}

/**
 * The stats tree and the imperative API of the C library (SPEC §3.2), without any FUSE: a view
 * (the mount) reads it through `readFile`/`writeFile`.
 */
export class StatsTree extends EventEmitter {
  /** @internal */
  readonly root: DirNode = new RootDir(() => this.refreshOwnership());
  /** Series and histograms are returned as themselves; this finds their directories. */
  private readonly directories = new WeakMap<Series | Histogram, DirNode>();
  /** Getter failures are reported once per file, not once per read; other problems once per key. */
  private readonly reported = new WeakSet<FileNode>();
  private readonly reportedKeys = new Set<string>();
  private readonly classDirs = new Map<ClassSpec, ClassDir>();
  /** Which instances are shown nested under another instead of in their class directory (nesting.ts). */
  private readonly nesting = new Nesting({
    isReleased: (obj) => this.isReleased(obj),
    classDirOf: (obj) => this.classDirOf(obj),
    classDirs: () => this.classDirs.values(),
    listable: (obj) => this.classDirOf(obj)?.has(obj) === true || this.singletonDirOf(obj) !== undefined,
  });
  private readonly census = new Census(this.root);

  /**
   * Shows a `@StatDir` instance (decorated classes call this when their constructor finishes). Holds it
   * weakly: its directory disappears when it is released or collected.
   */
  /** @internal */
  register(obj: object, spec: ClassSpec | undefined = specOfInstance(obj)): void {
    if (!spec) throw new ProcstatError('EINVAL', `register: ${obj?.constructor?.name ?? typeof obj} is not a @StatDir class`);
    this.census.created(spec);
    if (spec.options.singleton) {
      const previous = this.root.child(spec.dirName);
      if (previous instanceof InstanceDir) this.root.delete(previous);
      this.root.add(new InstanceDir(spec.dirName, new WeakRef(obj), spec, this));
    } else {
      this.classDirFor(spec).addInstance(obj);
    }
    this.nesting.register(obj);
  }

  /**
   * Removes an instance's directory now, without waiting for garbage collection. (Its registry
   * entry goes when the object is collected, or when a new instance takes its key.)
   */
  release(obj: object): void {
    const spec = specOfInstance(obj);
    if (spec && !this.isReleased(obj)) this.census.released(spec);
    released.set(obj);
    this.classDirOf(obj)?.hide(obj);
    const singleton = this.singletonDirOf(obj);
    if (singleton) this.root.delete(singleton);
  }

  /** A registered instance was garbage-collected (its class directory's finalizer says so). */
  /** @internal */
  collected(spec: ClassSpec): void {
    this.census.collected(spec);
  }

  /** @internal */
  isReleased(obj: object): boolean {
    return released.has(obj);
  }

  /** @internal */
  holds(obj: object): void {
    this.nesting.holds(obj);
  }

  private classDirOf(obj: object): ClassDir | undefined {
    const spec = specOfInstance(obj);
    return spec && this.classDirs.get(spec);
  }

  /** The directory at the root that shows `obj`, a singleton. */
  private singletonDirOf(obj: object): InstanceDir | undefined {
    const spec = specOfInstance(obj);
    const dir = spec?.options.singleton ? this.root.child(spec.dirName) : undefined;
    return dir instanceof InstanceDir && dir.ref.deref() === obj ? dir : undefined;
  }

  /**
   * Reads again the fields of the instances that hold others, and shows each instance nested under
   * them or in its class directory by the rule in nesting.ts.
   */
  /** @internal */
  refreshOwnership(): void {
    this.nesting.update();
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
