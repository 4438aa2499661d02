import { execFile } from 'child_process';
import { constants, promises as fs } from 'fs';
import * as path from 'path';
import { ProcstatError } from '../runtime/errors';
import { operations } from './operations';
import { ServedTree } from './served-tree';

type FuseClass = typeof import('fuse-native');

export interface MountOptions {
  /** Let other users read the mount (FUSE `allow_other`; needs `user_allow_other` in /etc/fuse.conf). */
  allowOther?: boolean;
}

/**
 * Mount options passed to libfuse. `direct_io` makes every read reach procstat (values are never
 * served from the page cache, and a file's size does not cut its content); zero timeouts make
 * removals visible at once. `auto_unmount` has fusermount remove the mount when the process dies,
 * even by SIGKILL.
 */
function fuseOptions(options: MountOptions): string {
  const list = ['fsname=procstat', 'subtype=procstat', 'auto_unmount', 'direct_io',
    'entry_timeout=0', 'attr_timeout=0', 'negative_timeout=0'];
  if (options.allowOther) list.push('allow_other');
  return `-o${list.join(',')}`;
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => execFile(command, args, (err) => (err ? reject(err) : resolve())));
}

async function onPath(program: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && await fs.access(path.join(dir, program), constants.X_OK).then(() => true, () => false)) return true;
  }
  return false;
}

let fuseClass: FuseClass | undefined;

/** Checks what FUSE needs on this machine and loads fuse-native; each failure says how to fix it. */
async function loadFuse(): Promise<FuseClass> {
  if (!await fs.access('/dev/fuse', constants.R_OK | constants.W_OK).then(() => true, () => false)) {
    throw new ProcstatError('ENODEV', 'FUSE is not available: /dev/fuse is missing or not accessible. ' +
      'Load the module (modprobe fuse); in a container run with --device /dev/fuse --cap-add SYS_ADMIN');
  }
  if (!await onPath('fusermount')) {
    throw new ProcstatError('ENODEV', 'fusermount was not found on $PATH: install it (Debian/Ubuntu: apt-get install fuse)');
  }
  if (!fuseClass) {
    try {
      fuseClass = require('fuse-native') as FuseClass;
    } catch (err) {
      const missingLib = /libfuse\.so\.2/.test(String((err as Error).message));
      throw new ProcstatError('ENODEV', missingLib
        ? 'libfuse.so.2 is missing: install it (Debian/Ubuntu: apt-get install libfuse2), then start the process again'
        : `fuse-native could not be loaded (${(err as Error).message}); reinstall procstat with npm ci`, { cause: err });
    }
  }
  return fuseClass;
}

/**
 * Makes `mountpoint` a usable empty directory: created if missing, a stale mount of a dead process
 * ("Transport endpoint is not connected") unmounted, a live mount or a non-directory refused.
 */
async function prepare(mountpoint: string): Promise<boolean> {
  let stat = await fs.stat(mountpoint).catch((err) => err as NodeJS.ErrnoException);
  if (stat instanceof Error && stat.code === 'ENOTCONN') {
    await run('fusermount', ['-uz', mountpoint]).catch(() => undefined);
    stat = await fs.stat(mountpoint).catch((err) => err as NodeJS.ErrnoException);
  }
  if (stat instanceof Error) {
    if (stat.code !== 'ENOENT') throw new ProcstatError('EINVAL', `cannot use ${mountpoint} as a mountpoint: ${stat.message}`);
    await fs.mkdir(mountpoint, { recursive: true });
    return true;
  }
  if (!stat.isDirectory()) {
    throw new ProcstatError('ENOTDIR', `${mountpoint} is not a directory; pass mount() a directory path (it is created if missing)`);
  }
  const parent = await fs.stat(path.dirname(mountpoint));
  if (parent.dev !== stat.dev) {
    throw new ProcstatError('EBUSY', `${mountpoint} is busy: something is already mounted there. ` +
      `Unmount it (fusermount -u ${mountpoint}) or choose another path`);
  }
  return false;
}

/** A live mount of a tree. */
export class FuseMount {
  private constructor(readonly mountpoint: string, private readonly fuse: InstanceType<FuseClass>, private readonly created: boolean) {}

  static async mount(tree: ServedTree, mountpoint: string, options: MountOptions = {}): Promise<FuseMount> {
    const Fuse = await loadFuse();
    const created = await prepare(mountpoint);
    const fuse = new Fuse(mountpoint, operations(tree), { autoUnmount: true });
    fuse._fuseOptions = () => fuseOptions(options);
    // The patched binding does not hold the event loop; this timer does until the kernel says hello.
    const wait = setTimeout(() => undefined, 60_000);
    try {
      await new Promise<void>((resolve, reject) => fuse.mount((err) => (err ? reject(err) : resolve())));
    } catch (err) {
      throw new ProcstatError('EIO', `mounting ${mountpoint} failed: ${(err as Error).message}`, { cause: err });
    } finally {
      clearTimeout(wait);
    }
    return new FuseMount(mountpoint, fuse, created);
  }

  async unmount(): Promise<void> {
    await new Promise<void>((resolve, reject) => this.fuse.unmount((err) => (err ? reject(err) : resolve())));
    if (this.created) await fs.rmdir(this.mountpoint).catch(() => undefined);
  }
}
