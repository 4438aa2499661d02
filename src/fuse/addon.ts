import { existsSync } from 'fs';
import * as path from 'path';
import { ProcstatError } from '../runtime/errors';

/** The native binding (native/procstat.c): the inode table and the FUSE session live there. */
export interface Addon {
  /** `takeSigint`/`takeSigterm`: the addon's handler removes the mount before the signal ends the process. */
  mount(mountpoint: string, options: string, deadlineMs: number, handlers: Handlers, takeSigint: boolean, takeSigterm: boolean,
    stallThresholdMs: number, budgetMs: number): MountHandle;
  /** `description`: a number from describe(), shown as the file's user.procstat.* attributes, or NO_DESCRIPTION. */
  add(handle: MountHandle, parent: number, ino: number, name: string, flags: number, mode: number, description: number): void;
  describe(handle: MountHandle, kind: string, help: string | undefined, unit: string | undefined): number;
  remove(handle: MountHandle, ino: number): void;
  /** Starts the watcher process that aborts the connection should this process die stuck; `dev`: the mountpoint's st_dev. */
  watch(handle: MountHandle, dev: number): void;
  setHidden(handle: MountHandle, ino: number, hidden: boolean): void;
  unmount(handle: MountHandle): void;
  status(handle: MountHandle): MountStatus;
  /** From any thread, by the mount's id: null once it is unmounted. */
  stallState(id: number): { blockedMs: number; key: number; thresholdMs: number; needsStack: boolean } | null;
  /** The stack of the stall `key` names; dropped if that stall has ended. */
  setStallStack(id: number, key: number, text: string): void;
  /** A file's user.procstat.* attributes, read with getxattr(2) (the CLI). */
  descriptionOf(path: string): { kind?: string; help?: string; unit?: string };
}

export interface MountStatus {
  staleReads: number;
  blockedMs: number;
  nodes: number;
  /** The mount's number for stallState() and setStallStack(). */
  id: number;
  stalls: number;
  longestStallMs: number;
}

/** What the addon asks JavaScript, on the main thread. Each returns content or an errno (positive). */
export interface Handlers {
  /**
   * The contents of a batch of files, in order: one answer per file until `budgetMs` has passed
   * (at least one); the addon asks again next turn for those not reached that a reader waits for.
   */
  read(inos: number[], budgetMs: number): Array<string | number>;
  /** `parent` and `name`: where the addon has `ino` (an entry may have been told without its node). */
  list(ino: number, parent: number, name: string): number;
  write(ino: number, data: Buffer): number;
}

export type MountHandle = { readonly __mount: unique symbol };

export const F_DIR = 1, F_LAZY = 2, F_HIDDEN = 4, F_ELEMENTS = 8;
export const NO_DESCRIPTION = 0;
export const ROOT_INO = 1;
/** The addon's own procstat/ directory (native/procstat.c STATUS_INO_BASE). */
export const STATUS_INO = 2 ** 60;

let loaded: Addon | undefined;

/** The directory with binding.gyp: the package root, whichever build of dist/ this file is in. */
function packageRoot(): string {
  let dir = __dirname;
  while (!existsSync(path.join(dir, 'binding.gyp')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

/**
 * Loads the addon on first mount, so that `import 'procstat'` never fails because of FUSE: a
 * prebuilt binary from prebuilds/, else a local build (build/Release).
 */
export function loadAddon(): Addon {
  if (loaded) return loaded;
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    loaded = require('node-gyp-build')(packageRoot()) as Addon;
    return loaded;
  } catch (err) {
    const message = String((err as Error)?.message ?? err);
    if (/libfuse3\.so/.test(message)) {
      throw new ProcstatError('ENODEV', 'libfuse3.so.3 is missing: install it (Debian/Ubuntu: apt-get install fuse3), ' +
        'then start the process again', { cause: err });
    }
    throw new ProcstatError('ENODEV', `procstat's native addon could not be loaded (${message}). It needs fuse3 ` +
      '(Debian/Ubuntu: apt-get install fuse3). The package carries a prebuilt addon for linux-x64 in prebuilds/; elsewhere, ' +
      'or if that is gone, it is built from source: install libfuse3-dev and a C compiler, then run npm rebuild procstat',
    { cause: err });
  }
}
