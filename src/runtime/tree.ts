import { aggregatorFile } from './aggregator';
import { ProcstatError } from './errors';
import { checkFileOptions } from './file-options';
import { Histogram } from './histogram';
import { histogramDirectory, parameterFile, ParameterOptions, seriesDirectory, StartEndSource, startEndDirectory, valueFile, ValueOptions } from './items';
import { checkName } from './names';
import { DirNode, FileNode, Node, TreeNode } from './nodes';
import { walk } from './path-walk';
import { FileReader } from './read';
import { Series } from './series';
import { StartEnd } from './start-end';

/** A directory item, or `null` for the root. */
export type Parent = DirNode | null;
/** Anything the imperative API returns and `remove` takes. */
export type Item = Node | Series | Histogram;

/**
 * The root directory. Listing it first brings the class directories up to date: one left out of the
 * listing because all its instances were shown nested may have an instance to list again.
 */
class RootDir extends DirNode {
  constructor(private readonly beforeListing: () => void) {
    super('');
  }

  override names(): string[] {
    this.beforeListing();
    return super.names();
  }

  override *children(withHidden = false): IterableIterator<Node> {
    this.beforeListing();
    yield* super.children(withHidden);
  }
}

/** The stats tree and the imperative API of the C library (SPEC §3.2), without any view of it. */
export class StatsTree {
  readonly root: DirNode;
  /** Series and histograms are returned as themselves; this finds their directories. */
  private readonly directories = new WeakMap<Series | Histogram, DirNode>();

  /** `reader` reads the values aggregators show; `beforeListing` runs before the root is listed. */
  constructor(private readonly reader: FileReader, beforeListing: () => void) {
    this.root = new RootDir(beforeListing);
  }

  createDirectory(parent: Parent, name: string): DirNode {
    return this.attach(parent, new DirNode(checkName(name, 'createDirectory')));
  }

  createValue(parent: Parent, name: string, get: () => unknown, options: ValueOptions = {}): FileNode {
    if (typeof get !== 'function') throw new ProcstatError('EINVAL', `createValue ${JSON.stringify(name)}: get must be a function returning the value`);
    checkFileOptions(options, `createValue ${JSON.stringify(name)}`);
    return this.attach(parent, valueFile(checkName(name, 'createValue'), get, options));
  }

  createParameter<T>(parent: Parent, name: string, options: ParameterOptions<T>): FileNode {
    if (typeof options?.set !== 'function') {
      throw new ProcstatError('EINVAL', `createParameter ${JSON.stringify(name)}: options.set must be a function receiving the parsed value`);
    }
    checkFileOptions(options, `createParameter ${JSON.stringify(name)}`);
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
    if (typeof source !== 'object' || source === null) {
      throw new ProcstatError('EINVAL', `createStartEnd ${JSON.stringify(name)}: pass { start, end } (values or functions) or a StartEnd`);
    }
    return this.attach(parent, startEndDirectory(checkName(name, 'createStartEnd'), source));
  }

  createAggregator(parent: Parent, name: string): FileNode {
    return this.attach(parent, aggregatorFile(checkName(name, 'createAggregator'), this.dirOf(parent), this.reader));
  }

  /** The item at `name` below `parent`; `name` may be a path such as `outer-0/inner-3/value-6`. */
  lookup(parent: Parent, name: string): TreeNode | undefined {
    return walk(this.dirOf(parent), name) as TreeNode | undefined;
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

  private dirOf(parent: Parent): DirNode {
    if (parent === null || parent === undefined) return this.root;
    if (!(parent instanceof DirNode) || parent.removed) {
      throw new ProcstatError('ENOENT', 'the parent is not a directory of this tree (removed, or not a directory item)');
    }
    return parent;
  }

  private attach<T extends Node>(parent: Parent, node: T): T {
    const dir = this.dirOf(parent);
    if (dir === this.root && node.name === 'procstat') {
      throw new ProcstatError('EINVAL', '"procstat" is reserved at the root for the mount\'s own status; give the item another name or put it in a directory');
    }
    return dir.add(node);
  }
}
