import { rmSync } from 'fs';
import { forceUnmountLeftovers, leftoverMounts, SPEC_ROOT, unmountAll } from './mounts';

// Root hooks: every test's mounts are removed after it, pass or fail, and nothing survives the run.
export const mochaHooks = {
  async afterEach() {
    await unmountAll();
  },
  afterAll() {
    const left = forceUnmountLeftovers();
    if (left.length > 0) console.error(`procstat spec: force-unmounted leftovers: ${left.join(', ')}`);
    // Never walk a directory that might still hold a mount of this process: that would deadlock.
    if (leftoverMounts().length === 0) rmSync(SPEC_ROOT, { recursive: true, force: true });
  },
};
