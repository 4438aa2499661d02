import { EventEmitter } from 'events';
import type { IncomingMessage, ServerResponse } from 'http';
import { Mount, mountView } from './mount/mount';
import { MountOptions } from './mount/options';
import { ContextView } from './runtime/context-view';
import { setDefaultContext } from './runtime/default-context';
import { ProcstatError } from './runtime/errors';
import { Histogram } from './runtime/histogram';
import { ParameterOptions, StartEndSource, ValueOptions } from './runtime/items';
import { metricsHandler } from './runtime/metrics-handler';
import { DirNode, FileNode, TreeNode } from './runtime/nodes';
import { addProcessMetrics } from './runtime/process-metrics';
import { collect, Exposition } from './runtime/prometheus';
import { Reader } from './runtime/reader';
import { Registry } from './runtime/registry';
import { Series } from './runtime/series';
import { StartEnd } from './runtime/start-end';
import { Item, Parent, StatsTree } from './runtime/tree';

/**
 * A procstat context: the facade over a stats tree (the imperative API), a registry of `@StatDir`
 * instances, and at most one mount. Emits 'error' (once per file) when a getter throws while being read.
 */
export class Procstat extends EventEmitter {
  /** Reads and writes files for every view; problems go to 'error' (a warning while nothing listens). */
  /** @internal */
  readonly reader = new Reader((error) => {
    // An 'error' event without a listener would throw and crash the service; warn instead.
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else process.emitWarning(error.message, 'ProcstatWarning');
  });
  /** @internal */
  readonly tree: StatsTree = new StatsTree(this.reader, () => this.registry.updateNesting());
  /** @internal */
  readonly registry = new Registry(this.tree.root);
  /** @internal */
  readonly view: ContextView = { root: this.tree.root, reader: this.reader, refreshNesting: () => this.registry.refreshNesting() };
  private mounted: Mount | null = null;
  /** Whether the mount()s and unmount()s called so far leave this context mounted (some may still be running). */
  private willBeMounted = false;
  /** Counts mount() and unmount() calls: a failed mount() knows whether a later call has decided since. */
  private changes = 0;
  /** The last mount() or unmount() called: each runs after the one before, in call order. */
  private lastChange: Promise<unknown> = Promise.resolve();

  /** The path of the current mount, or undefined when not mounted. */
  get mountpoint(): string | undefined {
    return this.mounted?.mountpoint;
  }

  /**
   * Mounts the tree at `path` (created if missing); default `$PROCSTAT_MOUNT`, else
   * `${XDG_RUNTIME_DIR:-/tmp}/procstat-<uid>/<app>.<pid>`. Resolves when the mount serves.
   * With `fallback: 'snapshot'`, where FUSE cannot be used the tree is written there as ordinary
   * files every `snapshotIntervalMs` (default 1000) instead, with a warning.
   */
  async mount(path?: string, options: MountOptions = {}): Promise<void> {
    if (this.willBeMounted) {
      throw new ProcstatError('EBUSY', this.mounted
        ? `this context is already mounted at ${this.mounted.mountpoint}; unmount() it first`
        : 'this context is already being mounted (an earlier mount() has not resolved yet); unmount() it first');
    }
    this.willBeMounted = true;
    const call = ++this.changes;
    try {
      await this.inTurn(async () => {
        this.mounted = await mountView(this.view, path, options);
      });
    } catch (err) {
      if (call === this.changes) this.willBeMounted = false;
      throw err;
    }
  }

  /** Removes the mount; the tree stays and can be mounted again. Called while mount() runs, it removes what that mount() makes. */
  async unmount(): Promise<void> {
    this.willBeMounted = false;
    this.changes++;
    await this.inTurn(async () => {
      const mounted = this.mounted;
      this.mounted = null;
      await mounted?.unmount();
    });
  }

  /** Runs `change` once the mount() or unmount() called before it has settled. */
  private inTurn(change: () => Promise<void>): Promise<void> {
    const run = this.lastChange.then(change, change);
    this.lastChange = run.catch(() => undefined);
    return run;
  }

  createDirectory(parent: Parent, name: string): DirNode {
    return this.tree.createDirectory(parent, name);
  }

  createValue(parent: Parent, name: string, get: () => unknown, options: ValueOptions = {}): FileNode {
    return this.tree.createValue(parent, name, get, options);
  }

  createParameter<T>(parent: Parent, name: string, options: ParameterOptions<T>): FileNode {
    return this.tree.createParameter(parent, name, options);
  }

  createSeries(parent: Parent, name: string): Series {
    return this.tree.createSeries(parent, name);
  }

  createHistogram(parent: Parent, name: string, fractions: readonly number[]): Histogram {
    return this.tree.createHistogram(parent, name, fractions);
  }

  createStartEnd(parent: Parent, name: string, source: StartEndSource | StartEnd): DirNode {
    return this.tree.createStartEnd(parent, name, source);
  }

  createAggregator(parent: Parent, name: string): FileNode {
    return this.tree.createAggregator(parent, name);
  }

  /** The item at `name` below `parent`; `name` may be a path such as `outer-0/inner-3/value-6`. */
  lookup(parent: Parent, name: string): TreeNode | undefined {
    return this.tree.lookup(parent, name);
  }

  remove(item: Item): void {
    this.tree.remove(item);
  }

  removeByName(parent: Parent, name: string): void {
    this.tree.removeByName(parent, name);
  }

  /**
   * Removes an instance's directory now, without waiting for garbage collection. (Its registry
   * entry goes when the object is collected, or when a new instance takes its key.)
   */
  release(obj: object): void {
    this.registry.release(obj);
  }

  /**
   * Adds `process/`: uptime, CPU, memory, event-loop delay and utilisation, GC by kind, active
   * resources by type, open file descriptors. Once per context.
   */
  collectDefaultMetrics(): void {
    if (!this.tree.root.child('process')) addProcessMetrics(this.tree, this.registry);
  }

  /** The whole tree in the Prometheus text format (see prometheus.ts for the mapping). */
  metrics(options: { prefix?: string } = {}): string {
    return this.collectMetrics(options).text();
  }

  /** The metric families behind `metrics()`, and while FUSE-mounted the mount's own (procstat_stall_count_total …). */
  collectMetrics(options: { prefix?: string } = {}): Exposition {
    const families = collect(this.tree.root, { prefix: options.prefix, reader: this.reader });
    if (this.mounted?.status) families.visit(this.mounted.status, ['procstat'], []);
    return families;
  }

  /** A `node:http` request handler that serves `metrics()`: `http.createServer(ctx.metricsHandler())`. */
  metricsHandler(options: { prefix?: string } = {}): (req: IncomingMessage, res: ServerResponse) => void {
    return metricsHandler(() => this.metrics(options));
  }
}

/** The default context, which decorated classes register with. */
export const procstat = new Procstat();
setDefaultContext(procstat);
