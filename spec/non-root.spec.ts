// As an ordinary user, every way a process ends leaves no mount. fusermount3's auto_unmount cannot
// remove a user's mount (it checks the mountpoint with the user's uid and gets EACCES), so procstat
// runs `fusermount3 -u` itself: at unmount and exit, in its SIGINT/SIGTERM handler, and from its
// watcher process when the process dies by any other signal. The spec (run as root) makes a user,
// lets it use /dev/fuse as Debian's udev rule does (0666; put back afterwards), and runs a small app
// as that user from a world-readable copy of the package.
import { expect } from 'chai';
import { ChildProcess, execFileSync, spawn } from 'child_process';
import { chmodSync, chownSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { otherUser } from './helpers/users';

const ROOT = path.join(__dirname, '..', '..');

const APP = `
const { Procstat } = require('./package');
const [mode, mnt] = process.argv.slice(2);
const ctx = new Procstat();
ctx.createValue(null, 'answer', () => 42);
(async () => {
  await ctx.mount(mnt);
  if (mode === 'remount') {
    await ctx.unmount();
    await ctx.mount(mnt);
    console.log('REMOUNTED');
    await ctx.unmount();
    return;
  }
  console.log('READY');
  if (mode === 'unmount') return ctx.unmount();
  if (mode === 'exit') process.exit(3);
  if (mode === 'throw') throw new Error('thrown on purpose');
  if (mode === 'finish') return;
  setInterval(() => undefined, 1000);
  if (mode === 'spin') { const end = Date.now() + 60000; while (Date.now() < end) { /* a stuck main thread */ } }
})();
`;

function mounted(mnt: string): boolean {
  return readFileSync('/proc/self/mounts', 'utf8').split('\n').some((line) => line.split(' ')[1] === mnt);
}

async function goneSoon(mnt: string): Promise<boolean> {
  for (let i = 0; i < 60 && mounted(mnt); i++) await new Promise((resolve) => setTimeout(resolve, 50));
  return !mounted(mnt);
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
    else child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

describe('as an ordinary user, no way of ending leaves a mount', function () {
  this.timeout(60_000);
  let dir: string;
  let fuseMode: number | undefined;
  let uid: number;
  let gid: number;
  const children: ChildProcess[] = [];

  before(function () {
    if (process.getuid!() !== 0) this.skip();  // it makes a user: root only (CI runs as root)
    ({ uid, gid } = otherUser());
    const mode = statSync('/dev/fuse').mode & 0o777;
    if ((mode & 0o006) !== 0o006) {
      fuseMode = mode;
      chmodSync('/dev/fuse', 0o666);
    }
    // A world-readable copy of what the app needs: the spec's own tree may sit below a root-only directory.
    dir = mkdtempSync(path.join(os.tmpdir(), 'procstat-nonroot-'));
    chmodSync(dir, 0o755);
    const pkg = path.join(dir, 'package');
    // The addon where node-gyp-build finds it: build/Release, or prebuilds/ once the package spec has packed.
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const addon = path.relative(ROOT, require('node-gyp-build').path(ROOT) as string);
    for (const part of ['dist/src', addon, 'binding.gyp', 'package.json', 'node_modules/node-gyp-build', 'node_modules/reflect-metadata']) {
      cpSync(path.join(ROOT, part), path.join(pkg, part), { recursive: true });
    }
    writeFileSync(path.join(dir, 'app.js'), APP);
    execFileSync('chmod', ['-R', 'a+rX', dir]);
    const mounts = path.join(dir, 'mnt');
    mkdirSync(mounts);
    chownSync(mounts, uid, gid);
  });

  after(() => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    if (dir) {
      for (const line of readFileSync('/proc/self/mounts', 'utf8').split('\n')) {
        const mnt = line.split(' ')[1];
        if (mnt?.startsWith(dir)) execFileSync('fusermount3', ['-uz', mnt], { stdio: 'ignore' });
      }
      rmSync(dir, { recursive: true, force: true });
    }
    if (fuseMode !== undefined) chmodSync('/dev/fuse', fuseMode);
  });

  /** Runs the app as the user; resolves with it once it printed `ready` (READY or REMOUNTED). */
  async function runApp(mode: string, mnt: string, ready = 'READY'): Promise<{ child: ChildProcess; output: () => string }> {
    const child = spawn(process.execPath, [path.join(dir, 'app.js'), mode, mnt], { cwd: dir, uid, gid, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (chunk) => { out += chunk; });
    child.stderr!.on('data', (chunk) => { out += chunk; });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${mode}: no ${ready} within 20 s: ${out}`)), 20_000);
      const check = () => { if (out.includes(ready)) { clearTimeout(timer); resolve(); } };
      child.stdout!.on('data', check);
      child.once('exit', () => { clearTimeout(timer); out.includes(ready) ? resolve() : reject(new Error(`${mode}: exited before ${ready}: ${out}`)); });
    });
    return { child, output: () => out };
  }

  it('with /dev/fuse 0600, mount() rejects naming the device\'s mode and the fix, not the kernel module', async () => {
    const mode = statSync('/dev/fuse').mode & 0o777;
    chmodSync('/dev/fuse', 0o600);
    try {
      const child = spawn(process.execPath, [path.join(dir, 'app.js'), 'finish', path.join(dir, 'mnt', 'refused')], { cwd: dir, uid, gid });
      let out = '';
      child.stderr!.on('data', (chunk) => { out += chunk; });
      expect((await exited(child)).code).to.equal(1);
      expect(out).to.include(`FUSE is not usable by this user (uid ${uid}`).and.include('/dev/fuse is crw-------')
        .and.include('chmod 0666 /dev/fuse').and.not.include('modprobe');
    } finally {
      chmodSync('/dev/fuse', mode);
    }
  });

  for (const [mode, code] of [['unmount', 0], ['finish', 0], ['exit', 3], ['throw', 1]] as const) {
    it(`${mode}: exit code ${code}, and the mount is gone`, async () => {
      const mnt = path.join(dir, 'mnt', mode);
      const { child, output } = await runApp(mode, mnt);
      const result = await exited(child);
      expect(result.code, output()).to.equal(code);
      expect(await goneSoon(mnt), `${mnt} still mounted after ${mode}`).to.equal(true);
    });
  }

  it('unmount() and mount() again in one process: the second mount works', async () => {
    const mnt = path.join(dir, 'mnt', 'remount');
    const { child, output } = await runApp('remount', mnt, 'REMOUNTED');
    expect((await exited(child)).code, output()).to.equal(0);
    expect(await goneSoon(mnt)).to.equal(true);
  });

  for (const [mode, signal] of [['stay', 'SIGTERM'], ['stay', 'SIGINT'], ['stay', 'SIGHUP'], ['stay', 'SIGKILL'],
    ['spin', 'SIGTERM'], ['spin', 'SIGKILL']] as const) {
    it(`${signal}${mode === 'spin' ? ' while the main thread spins in JavaScript' : ''}: the mount is gone`, async () => {
      const mnt = path.join(dir, 'mnt', `${mode}-${signal}`);
      const { child } = await runApp(mode, mnt);
      expect(mounted(mnt)).to.equal(true);
      child.kill(signal);
      await exited(child);
      expect(await goneSoon(mnt), `${mnt} still mounted after ${signal}`).to.equal(true);
    });
  }
});
