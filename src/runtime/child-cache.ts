import { specOfInstance } from './class-spec';
import { isCollection } from './collections';
import { Histogram } from './histogram';
import { DirNode, Node } from './nodes';
import { Series } from './series';
import { StartEnd } from './start-end';

/** The source of a cached file: the file reads its field live, whatever the value is now. */
const PLAIN_VALUE = Symbol('plain value');
/** The source of a cached array or Map directory: it reads its field live too, so a getter's fresh array is the same directory. */
const COLLECTION = Symbol('collection');

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

/**
 * Caches a directory's children by name, rebuilding one when its field now holds another object.
 * A mirroring view is told of every node it builds, and of the one a rebuild replaces.
 */
export class ChildCache {
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

  /** True when the node cached for `name` stands for `value` already (get() would return it). */
  standsFor(name: string, value: unknown): boolean {
    return this.nodes?.get(name)?.source === sourceOf(value);
  }

  /** True when the node cached for `name` is a directory of an object or collection (not a file). */
  standsForObject(name: string): boolean {
    const cached = this.nodes?.get(name);
    return cached !== undefined && cached.source !== PLAIN_VALUE;
  }
}
