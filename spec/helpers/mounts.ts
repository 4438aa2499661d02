import { mkdtempSync, readFileSync } from 'fs';
import { execFileSync } from 'child_process';
import * as os from 'os';
import * as path from 'path';
import { MountOptions, Procstat } from '../../src';

// State shared through globalThis: the TC39 build of the decorator spec has its own copy of this module.
const shared = ((globalThis as any)[Symbol.for('procstat.spec')] ??= {
  root: mkdtempSync(path.join(os.tmpdir(), 'procstat-spec-')),
  live: new Set<Procstat>(),
}) as { root: string; live: Set<Procstat> };

/** Every mount a test makes lives below this directory, so the root hook can find leftovers. */
export const SPEC_ROOT = shared.root;

let counter = 0;

export function tempPath(label = 'mnt'): string {
  return path.join(SPEC_ROOT, `${label}-${++counter}`);
}

const live = shared.live;

/** Mounts `ctx` under the spec root; `unmountAll` (run after every test) removes it. */
export async function mountTemp(ctx: Procstat, label?: string, options?: MountOptions): Promise<string> {
  const mountpoint = tempPath(label);
  await ctx.mount(mountpoint, options);
  live.add(ctx);
  return mountpoint;
}

export async function unmountAll(): Promise<void> {
  for (const ctx of live) await ctx.unmount().catch(() => undefined);
  live.clear();
}

/** FUSE mounts below the spec root, read from the mount table (never by touching them). */
export function leftoverMounts(): string[] {
  return readFileSync('/proc/self/mounts', 'utf8').split('\n')
    .map((line) => line.split(' '))
    .filter((fields) => fields[1]?.startsWith(SPEC_ROOT) && fields[2]?.startsWith('fuse'))
    .map((fields) => fields[1]);
}

export function isMounted(mountpoint: string): boolean {
  return leftoverMounts().includes(mountpoint);
}

/** True once `mountpoint` has left the mount table (auto_unmount takes a moment), false after 5 s. */
export async function unmountedSoon(mountpoint: string): Promise<boolean> {
  for (let i = 0; i < 100 && isMounted(mountpoint); i++) await new Promise((resolve) => setTimeout(resolve, 50));
  return !isMounted(mountpoint);
}

/** Last resort for a test that failed mid-way: lazy-unmount whatever it left. */
export function forceUnmountLeftovers(): string[] {
  const left = leftoverMounts();
  for (const mountpoint of left) {
    try { execFileSync('fusermount', ['-uz', mountpoint], { stdio: 'ignore' }); } catch { /* already gone */ }
  }
  return left;
}

/** What `mountedWithLimit` gives each test: a fresh context, where it is mounted, and its `limit` parameter's value. */
export interface LimitFixture {
  ctx: Procstat;
  mnt: string;
  limit: number;
}

/**
 * The setup of the specs that read and write through a mount: before each test, a fresh context with
 * what `build` adds, then a `limit` parameter (5, at most `max`), mounted under the spec root (the
 * root hook unmounts it after the test).
 */
export function mountedWithLimit(build: (ctx: Procstat) => void = () => undefined, max?: number): LimitFixture {
  const fixture = {} as LimitFixture;
  beforeEach(async () => {
    fixture.ctx = new Procstat();
    fixture.limit = 5;
    build(fixture.ctx);
    fixture.ctx.createParameter(null, 'limit', { get: () => fixture.limit, set: (v: number) => { fixture.limit = v; }, max });
    fixture.mnt = await mountTemp(fixture.ctx);
  });
  return fixture;
}
