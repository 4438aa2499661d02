import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { shOk } from './shell';

export const REPO = path.join(__dirname, '..', '..', '..');

export interface Packed {
  /** The tarball's path. */
  tarball: string;
  /** The files in it, sorted. */
  files: string[];
}

// Shared through globalThis: packing runs prepack (a build and prebuildify), once per test run.
const shared = globalThis as { [key: symbol]: Promise<Packed> | undefined };
const KEY = Symbol.for('procstat.spec.packed');

/** `npm pack` of this repository, as a user gets it (prepack puts the prebuilt addon in). */
export function packed(): Promise<Packed> {
  shared[KEY] ??= (async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'procstat-pack-'));
    // prepack (the TypeScript build, then prebuildify) on its own: its output would break the JSON.
    await shOk('npm run prepack', REPO);
    const [info] = JSON.parse(await shOk(`npm pack --json --ignore-scripts --pack-destination ${dir} 2>/dev/null`, REPO));
    return { tarball: path.join(dir, info.filename), files: info.files.map((f: { path: string }) => f.path).sort() };
  })();
  return shared[KEY]!;
}
