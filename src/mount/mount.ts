import { FuseMount } from '../fuse/mount';
import { ContextView } from '../runtime/context-view';
import { ProcstatError } from '../runtime/errors';
import { DirNode } from '../runtime/nodes';
import { SnapshotWriter } from '../snapshot/snapshot-writer';
import { chooseMountpoint } from './mount-path';
import { MountOptions, validateMountOptions } from './options';

const DEFAULT_SNAPSHOT_MS = 1000;

/** A context's mount, FUSE or the snapshot fallback: where it is, and how it goes away. */
export interface Mount {
  readonly mountpoint: string;
  /** The mount's own figures (procstat/stall/count …) for the Prometheus view; FUSE mounts only. */
  readonly status?: DirNode;
  unmount(): Promise<void>;
}

/**
 * Mounts `view` at `path` (default: mount-path.ts), with FUSE; where FUSE cannot be used and
 * `fallback: 'snapshot'` asks for it, writes snapshots there instead, with a warning.
 */
export async function mountView(view: ContextView, path: string | undefined, options: MountOptions): Promise<Mount> {
  validateMountOptions(options);
  const mountpoint = await chooseMountpoint(path);
  // Claimed before any await: two contexts of this process mounting one path at once would each
  // find it free, and stack two mounts there.
  if (claimed.has(mountpoint)) {
    throw new ProcstatError('EBUSY', `${mountpoint} is already mounted, or being mounted, by another procstat context of this process; ` +
      'give each context its own path');
  }
  claimed.add(mountpoint);
  try {
    return releasingClaim(await mountAt(view, mountpoint, options));
  } catch (err) {
    claimed.delete(mountpoint);
    throw err;
  }
}

/** The mountpoints this process has mounted, or is mounting. */
const claimed = new Set<string>();

/** `mount`, giving its mountpoint back to this process when it unmounts. */
function releasingClaim(mount: Mount): Mount {
  return {
    get mountpoint() { return mount.mountpoint; },
    get status() { return mount.status; },
    async unmount() {
      try {
        await mount.unmount();
      } finally {
        claimed.delete(mount.mountpoint);
      }
    },
  };
}

async function mountAt(view: ContextView, mountpoint: string, options: MountOptions): Promise<Mount> {
  try {
    return await FuseMount.mount(view, mountpoint, options);
  } catch (err) {
    // ENODEV: no /dev/fuse, fusermount3 or libfuse3; EACCES: a /dev/fuse this user may not open.
    const unavailable = err instanceof ProcstatError && (err.code === 'ENODEV' || err.code === 'EACCES');
    if (!unavailable || options.fallback !== 'snapshot') throw err;
    const interval = options.snapshotIntervalMs ?? DEFAULT_SNAPSHOT_MS;
    process.emitWarning(`procstat: ${(err as Error).message}. Writing snapshots of the stats to ${mountpoint} every ` +
      `${interval} ms instead (parameters cannot be set there)`, 'ProcstatWarning');
    return SnapshotWriter.start(view, mountpoint, interval);
  }
}
