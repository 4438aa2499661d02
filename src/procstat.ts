import { chooseMountpoint } from './fuse/mount-path';
import { FuseMount, MountOptions } from './fuse/mount';
import { ProcstatError } from './runtime/errors';
import { StatsTree } from './runtime/stats-tree';

/**
 * A procstat context: a stats tree (the imperative API) that can be mounted as a FUSE filesystem.
 * Emits 'error' (once per file) when a getter throws while being read.
 */
export class Procstat extends StatsTree {
  private mounted: FuseMount | null = null;

  /** The path of the current mount, or undefined when not mounted. */
  get mountpoint(): string | undefined {
    return this.mounted?.mountpoint;
  }

  /**
   * Mounts the tree at `path` (created if missing); default `$PROCSTAT_MOUNT`, else
   * `${XDG_RUNTIME_DIR:-/tmp}/procstat-<uid>/<app>.<pid>`. Resolves when the mount serves.
   */
  async mount(path?: string, options: MountOptions = {}): Promise<void> {
    if (this.mounted) {
      throw new ProcstatError('EBUSY', `this context is already mounted at ${this.mounted.mountpoint}; unmount() it first`);
    }
    this.mounted = await FuseMount.mount(this, await chooseMountpoint(path), options);
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
