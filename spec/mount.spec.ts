// The context's mount (SPEC §3.1): paths, type, stale and busy mountpoints, lifecycle, FUSE errors.
import { expect } from 'chai';
import { spawn } from 'child_process';
import { promises as fs } from 'fs';
import * as path from 'path';
import { Procstat, ProcstatError } from '../src';
import { isMounted, mountTemp, tempPath, unmountedSoon } from './helpers/mounts';
import { defaultPathEnv, serve } from './helpers/serve';
import { sh, shOk } from './helpers/shell';

const SERVE = path.join(__dirname, 'fixtures', 'serve.js');

async function mountError(ctx: Procstat, mountpoint: string): Promise<ProcstatError> {
  const error = await ctx.mount(mountpoint).then(() => undefined, (err) => err);
  expect(error).to.be.instanceOf(ProcstatError);
  return error;
}

/** How many mounts there are at `dir` (mounts stack: a second one at the same path hides the first). */
async function mountsAt(dir: string): Promise<number> {
  const info = await fs.readFile('/proc/self/mountinfo', 'utf8');
  return info.split('\n').filter((line) => line.split(' ')[4] === dir).length;
}

/** `ctx` is mounted at `dir`, once, and serves its `answer` there. */
async function expectMountedOnce(ctx: Procstat, dir: string): Promise<void> {
  expect(ctx.mountpoint).to.equal(dir);
  expect(await mountsAt(dir)).to.equal(1);
  expect(await shOk(`cat ${dir}/answer`)).to.equal('42\n');
}

/** Runs `body` while another process (spec/fixtures/serve.ts) has a procstat mount at `dir`. */
async function withMountIn(dir: string, body: () => Promise<void>): Promise<void> {
  const other = serve(['stay', dir]);
  try {
    expect(await other.line).to.equal(`READY ${dir}`);
    await body();
  } finally {
    other.child.kill('SIGTERM');
    await other.exited;
  }
}

describe('mount', () => {
  it('shows as type fuse.procstat at the requested path, and unmounts', async () => {
    const ctx = new Procstat();
    ctx.createValue(null, 'answer', () => 42);
    const mnt = await mountTemp(ctx);
    expect(ctx.mountpoint).to.equal(mnt);
    expect(await shOk(`findmnt -n -o FSTYPE ${mnt}`)).to.equal('fuse.procstat\n');
    await ctx.unmount();
    expect(isMounted(mnt)).to.equal(false);
    expect(ctx.mountpoint).to.equal(undefined);
  });

  it('the tree stays after unmount and can be mounted again', async () => {
    const ctx = new Procstat();
    ctx.createValue(null, 'answer', () => 42);
    await mountTemp(ctx);
    await ctx.unmount();
    const again = await mountTemp(ctx);
    expect(await shOk(`cat ${again}/answer`)).to.equal('42\n');
  });

  it('a second mount() while the first has not resolved is refused, at the same path or another', async () => {
    for (const sameDir of [true, false]) {
      const ctx = new Procstat();
      ctx.createValue(null, 'answer', () => 42);
      const [first, second] = [tempPath(), tempPath()];
      const results = await Promise.allSettled([ctx.mount(first), ctx.mount(sameDir ? first : second)]);
      try {
        expect(results[0].status).to.equal('fulfilled');
        const refused = results[1] as PromiseRejectedResult;
        expect(refused.status).to.equal('rejected');
        expect(refused.reason).to.be.instanceOf(ProcstatError);
        expect(refused.reason.code).to.equal('EBUSY');
        expect(refused.reason.message).to.equal('this context is already being mounted (an earlier mount() has not resolved yet); unmount() it first');
        await expectMountedOnce(ctx, first);
        expect(await mountsAt(second)).to.equal(0);
      } finally {
        await ctx.unmount();
      }
      expect(await mountsAt(first)).to.equal(0);
    }
  });

  it('two contexts mounting one path at once: the second is EBUSY, nothing stacks, nothing is left', async () => {
    const [a, b] = [new Procstat(), new Procstat()];
    a.createValue(null, 'answer', () => 42);
    const mnt = tempPath();
    const results = await Promise.allSettled([a.mount(mnt), b.mount(mnt)]);
    try {
      expect(results.map((r) => r.status)).to.deep.equal(['fulfilled', 'rejected']);
      const refused = (results[1] as PromiseRejectedResult).reason;
      expect(refused.code).to.equal('EBUSY');
      expect(refused.message).to.equal(`${mnt} is already mounted, or being mounted, by another procstat context of this process; ` +
        'give each context its own path');
      await expectMountedOnce(a, mnt);
    } finally {
      await a.unmount();
      await b.unmount();
    }
    expect(await mountsAt(mnt)).to.equal(0);
    await b.mount(mnt); // the path is free again
    await b.unmount();
  });

  it('unmount() called while mount() runs removes what that mount() makes; mount() then works again', async () => {
    const ctx = new Procstat();
    ctx.createValue(null, 'answer', () => 42);
    const mnt = tempPath();
    await Promise.all([ctx.mount(mnt), ctx.unmount()]);
    expect(ctx.mountpoint).to.equal(undefined);
    expect(await mountsAt(mnt)).to.equal(0);
    // Called in a row without waiting, mount, unmount, mount leave it mounted once.
    await Promise.all([ctx.mount(mnt), ctx.unmount(), ctx.mount(mnt)]);
    try {
      await expectMountedOnce(ctx, mnt);
    } finally {
      await ctx.unmount();
    }
    expect(await mountsAt(mnt)).to.equal(0);
  });

  it('a mount() that fails leaves the context free to mount', async () => {
    const ctx = new Procstat();
    const file = tempPath('file');
    await fs.writeFile(file, 'x');
    expect((await mountError(ctx, file)).code).to.equal('ENOTDIR');
    const mnt = await mountTemp(ctx);
    expect(ctx.mountpoint).to.equal(mnt);
  });

  it('defaults to ${XDG_RUNTIME_DIR:-/tmp}/procstat-<uid>/<app>.<pid>, the per-user root 0700', async () => {
    const { env, runtimeDir } = await defaultPathEnv();
    const child = serve(['stay'], env);
    try {
      const line = await child.line;
      const expected = path.join(runtimeDir, `procstat-${process.getuid!()}`, `serve.${child.child.pid}`);
      expect(line).to.equal(`READY ${expected}`);
      expect(await shOk(`cat ${expected}/pid`)).to.equal(`${child.child.pid}\n`);
      expect(await shOk(`stat -c %a ${path.dirname(expected)}`)).to.equal('700\n');
    } finally {
      child.child.kill('SIGKILL');
      await child.exited;
    }
  });

  it('uses $PROCSTAT_MOUNT when no path is given', async () => {
    const wanted = tempPath('env');
    const child = serve(['stay'], { ...process.env, PROCSTAT_MOUNT: wanted });
    try {
      expect(await child.line).to.equal(`READY ${wanted}`);
      expect(await shOk(`findmnt -n -o FSTYPE ${wanted}`)).to.equal('fuse.procstat\n');
    } finally {
      child.child.kill('SIGKILL');
      await child.exited;
    }
  });

  it('rejects a path that is not a directory, saying so', async () => {
    const file = tempPath('file');
    await fs.writeFile(file, 'x');
    const error = await mountError(new Procstat(), file);
    expect(error.code).to.equal('ENOTDIR');
    expect(error.message).to.include(`${file} is not a directory`);
  });

  it('rejects a path another process has mounted, with a message naming the fix', async () => {
    const mnt = tempPath();
    await withMountIn(mnt, async () => {
      const error = await mountError(new Procstat(), mnt);
      expect(error.code).to.equal('EBUSY');
      expect(error.message).to.include(`${mnt} is busy`).and.include(`fusermount3 -u ${mnt})`);
    });
  });

  it('the busy-path message quotes a path the shell would split', async () => {
    const mnt = `${tempPath()} it's`;
    await withMountIn(mnt, async () => {
      const error = await mountError(new Procstat(), mnt);
      expect(error.code).to.equal('EBUSY');
      expect(error.message).to.include(`(fusermount3 -u '${mnt.replace("'", "'\\''")}')`);
    });
  });

  it('a mountpoint that cannot be created is refused at once (Node\'s recursive mkdir loops forever under /proc)', async () => {
    const error = await mountError(new Procstat(), '/proc/1/procstat-spec');
    expect(error.code).to.equal('EINVAL');
    expect(error.message).to.match(/^cannot create \/proc\/1\/procstat-spec as a mountpoint: ENOENT/);
  });

  it('recovers a stale mount left by a killed process', async () => {
    const stale = tempPath('stale');
    const child = serve(['raw-stale', stale]);
    expect(await child.line).to.equal(`READY ${stale}`);
    child.child.kill('SIGKILL');
    await child.exited;
    expect((await sh(`stat ${stale}`)).stderr).to.match(/Transport endpoint is not connected/);
    const ctx = new Procstat();
    ctx.createValue(null, 'alive', () => 1);
    await ctx.mount(stale);
    try {
      expect(await shOk(`cat ${stale}/alive`)).to.equal('1\n');
    } finally {
      await ctx.unmount();
    }
  });

  it('never keeps the process alive by itself, and a finished process leaves no mount', async () => {
    const mnt = tempPath('finish');
    const child = serve(['finish', mnt]);
    expect(await child.line).to.equal(`READY ${mnt}`);
    const timeout = setTimeout(() => child.child.kill('SIGKILL'), 10_000);
    const { code } = await child.exited;
    clearTimeout(timeout);
    expect(code, 'the process should end by itself').to.equal(0);
    expect(await unmountedSoon(mnt)).to.equal(true);
  });

  it('a process killed with SIGKILL leaves no mount (auto_unmount)', async () => {
    const mnt = tempPath('killed');
    const child = serve(['stay', mnt]);
    expect(await child.line).to.equal(`READY ${mnt}`);
    expect(isMounted(mnt)).to.equal(true);
    child.child.kill('SIGKILL');
    await child.exited;
    expect(await unmountedSoon(mnt)).to.equal(true);
  });

  it('a process killed by SIGKILL, SIGTERM or SIGQUIT while instances churn under readers leaves no mount and no stuck reader', async function () {
    this.timeout(90_000);
    for (const signal of ['SIGKILL', 'SIGTERM', 'SIGQUIT'] as const) {
      const mnt = tempPath('churn');
      const child = serve(['churn', mnt]);
      const readers = Array.from({ length: 4 }, () => spawn('bash', ['-c',
        `while :; do grep -r . ${mnt} >/dev/null 2>&1; cat ${mnt}/Item/*/n >/dev/null 2>&1; done`], { stdio: 'ignore' }));
      try {
        expect(await child.line).to.equal(`READY ${mnt}`);
        await new Promise((resolve) => setTimeout(resolve, 1500));
        child.child.kill(signal);
        const ended = await Promise.race([child.exited.then(() => true), new Promise((resolve) => setTimeout(() => resolve(false), 10_000))]);
        expect(ended, `${signal}: the process ends`).to.equal(true);
        expect(await unmountedSoon(mnt), `${signal}: no mount left`).to.equal(true);
      } finally {
        for (const reader of readers) reader.kill('SIGKILL');
        // Only if the test failed: a stuck mount and its readers are freed (this machine's tool, else a lazy unmount).
        if (isMounted(mnt)) await sh(`/work/shared/tools/unstick ${mnt} || fusermount3 -uz ${mnt}`);
        child.child.kill('SIGKILL');
      }
    }
  });

  it('without fusermount3, the error says to install fuse3', async () => {
    const child = serve(['stay', tempPath('nofuse')], { ...process.env, PATH: '/nonexistent' });
    expect(await child.line).to.match(/^ERROR ENODEV fusermount3 was not found.*apt-get install fuse3\)/);
    expect((await child.exited).code).to.equal(3);
  });

  it('without the native addon, import works and mount() says what to install', async () => {
    // A copy of the package with neither prebuilds/ nor build/: what a platform without a prebuilt binary gets when its build failed.
    const root = path.resolve(__dirname, '..', '..');
    const copy = tempPath('package');
    await fs.mkdir(copy, { recursive: true });
    await fs.cp(path.join(root, 'dist', 'src'), path.join(copy, 'dist', 'src'), { recursive: true });
    for (const file of ['package.json', 'binding.gyp']) await fs.copyFile(path.join(root, file), path.join(copy, file));
    await fs.symlink(path.join(root, 'node_modules'), path.join(copy, 'node_modules'));
    const script = `require(${JSON.stringify(path.join(copy, 'dist', 'src'))}).procstat.mount(${JSON.stringify(tempPath('noaddon'))})` +
      '.then(() => console.log("MOUNTED"), (e) => console.log(e.code + " " + e.message))';
    const out = await shOk(`${process.execPath} -e '${script}'`);
    expect(out).to.match(/^ENODEV procstat's native addon could not be loaded \(No native build was found/);
    expect(out).to.include('It needs fuse3 (Debian/Ubuntu: apt-get install fuse3)')
      .and.include('install libfuse3-dev and a C compiler, then run npm rebuild procstat');
  });

  it('without libfuse3, the error says to install fuse3', async () => {
    // A private mount namespace hides the library from this child only.
    const lib = (await shOk('ldconfig -p | grep -o "/.*libfuse3.so.3$" | head -1')).trim();
    const child = spawn('unshare', ['-m', 'bash', '-c',
      `mount --bind /dev/null ${lib} && exec ${process.execPath} ${SERVE} stay ${tempPath('nolib')}`]);
    let out = '';
    child.stdout.on('data', (chunk) => { out += chunk; });
    child.stderr.on('data', (chunk) => { out += chunk; });
    const code = await new Promise((resolve) => child.on('exit', resolve));
    expect(out).to.match(/^ERROR ENODEV libfuse3\.so\.3 is missing: install it \(Debian\/Ubuntu: apt-get install fuse3\)/);
    expect(code).to.equal(3);
  });
});
