import { promises as fs } from 'fs';
import * as path from 'path';
import { ProcstatError } from '../runtime/errors';
import { sanitizeName } from '../runtime/names';

/** The app part of the default mount path: the main script's name without extension. */
function appName(): string {
  const script = process.argv[1];
  return script ? sanitizeName(path.basename(script, path.extname(script))) : 'node';
}

/**
 * `${XDG_RUNTIME_DIR:-/tmp}/procstat-<uid>/<app>.<pid>`. The per-user root is made 0700 and refused
 * when it is a symlink or belongs to someone else, so no other user can read or plant it.
 */
export async function defaultMountpoint(): Promise<string> {
  const uid = process.getuid?.() ?? 0;
  const root = path.join(process.env.XDG_RUNTIME_DIR || '/tmp', `procstat-${uid}`);
  await fs.mkdir(root, { mode: 0o700 }).catch((err) => { if (err.code !== 'EEXIST') throw err; });
  const stat = await fs.lstat(root);
  if (stat.isSymbolicLink() || !stat.isDirectory() || stat.uid !== uid) {
    throw new ProcstatError('EPERM',
      `${root} is ${stat.isSymbolicLink() ? 'a symlink' : stat.isDirectory() ? `owned by uid ${stat.uid}` : 'not a directory'}; ` +
      `procstat will not mount below it. Remove it, or set $PROCSTAT_MOUNT or pass a path to mount()`);
  }
  await removeDeadMountpoints(root);
  return path.join(root, `${appName()}.${process.pid}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A process killed by a signal leaves its empty `<app>.<pid>` directory behind (fusermount3
 * removes the mount, not the directory): the next mount in the same root removes those of dead
 * processes. rmdir never removes a directory that still holds something.
 */
async function removeDeadMountpoints(root: string): Promise<void> {
  for (const name of await fs.readdir(root).catch(() => [] as string[])) {
    const pid = Number(/\.(\d+)$/.exec(name)?.[1]);
    if (pid && pid !== process.pid && !alive(pid)) await fs.rmdir(path.join(root, name)).catch(() => undefined);
  }
}

export async function chooseMountpoint(requested?: string): Promise<string> {
  const chosen = requested ?? process.env.PROCSTAT_MOUNT;
  return chosen ? path.resolve(chosen) : defaultMountpoint();
}
