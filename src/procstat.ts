import { chooseMountpoint } from './fuse/mount-path';
import { FuseMount, MountOptions } from './fuse/mount';
import { ProcstatError } from './runtime/errors';
import { setDefaultContext } from './runtime/default-context';
import { validateMountOptions } from './runtime/mount-options';
import { Exposition } from './runtime/prometheus';
import { StatsTree } from './runtime/stats-tree';
import { SnapshotWriter } from './snapshot/snapshot-writer';

const DEFAULT_SNAPSHOT_MS = 1000;

/**
 * A procstat context: a stats tree (the imperative API) that can be mounted as a FUSE filesystem.
 * Emits 'error' (once per file) when a getter throws while being read.
 */
export class Procstat extends StatsTree {
  private mounted: FuseMount | SnapshotWriter | null = null;

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
    if (this.mounted) {
      throw new ProcstatError('EBUSY', `this context is already mounted at ${this.mounted.mountpoint}; unmount() it first`);
    }
    validateMountOptions(options);
    const mountpoint = await chooseMountpoint(path);
    try {
      this.mounted = await FuseMount.mount(this, mountpoint, options);
    } catch (err) {
      const unavailable = err instanceof ProcstatError && err.code === 'ENODEV';
      if (!unavailable || options.fallback !== 'snapshot') throw err;
      const interval = options.snapshotIntervalMs ?? DEFAULT_SNAPSHOT_MS;
      process.emitWarning(`procstat: ${(err as Error).message}. Writing snapshots of the stats to ${mountpoint} every ` +
        `${interval} ms instead (parameters cannot be set there)`, 'ProcstatWarning');
      this.mounted = await SnapshotWriter.start(this, mountpoint, interval);
    }
  }

  /** The tree's metric families, and while FUSE-mounted the mount's own (procstat_stall_count_total …). */
  override collectMetrics(options: { prefix?: string } = {}): Exposition {
    const view = super.collectMetrics(options);
    if (this.mounted instanceof FuseMount) view.visit(this.mounted.status, ['procstat'], []);
    return view;
  }

  /** Removes the mount; the tree stays and can be mounted again. */
  async unmount(): Promise<void> {
    const mounted = this.mounted;
    this.mounted = null;
    await mounted?.unmount();
  }
}

/** The default context, which decorated classes register with. */
export const procstat = new Procstat();
setDefaultContext(procstat);
