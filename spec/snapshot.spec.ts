// Without FUSE: the snapshot fallback writes the same paths and values as ordinary files.
import { expect } from 'chai';
import { spawn, spawnSync } from 'child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Procstat } from '../src';
import { tempPath } from './helpers/mounts';
import { otherUser } from './helpers/users';
import { serve } from './helpers/serve';
import { sh, shOk } from './helpers/shell';

describe('snapshot fallback (no FUSE)', () => {
  it('serves the same paths and values as the mount, refreshed every interval', async function () {
    this.timeout(20_000);
    const fuse = tempPath('fuse');
    const snapshot = tempPath('snapshot');
    const mounted = serve(['snapshot', fuse]);
    // Without fusermount on $PATH, FUSE cannot be used: the same program falls back.
    const fallback = serve(['snapshot', snapshot], { ...process.env, PATH: '/nonexistent' });
    try {
      expect(await mounted.line).to.equal(`READY ${fuse}`);
      expect(await fallback.line).to.equal(`READY ${snapshot}`);
      expect(fallback.output()).to.match(/fusermount3 was not found.*Writing snapshots of the stats to .* every 100 ms instead/s);
      expect(await shOk(`findmnt -n ${snapshot} || echo none`)).to.equal('none\n');

      const listing = (root: string) => shOk(`cd ${root} && find . -type f ! -path './procstat/*' ! -name control ! -name reset ! -name reset_interval_sec | sort`);
      const expected = await listing(fuse);
      // Files are written elsewhere and renamed into place: a walk never meets a half-written file.
      for (let i = 0; i < 20; i++) expect(await listing(snapshot)).to.equal(expected);
      const stable = (root: string) => shOk(`cd ${root} && grep -r . svc/name svc/limit svc/latency | sort`);
      expect(await stable(snapshot)).to.equal(await stable(fuse));
      expect(await stable(snapshot)).to.include('svc/latency/count:1\n').and.include('svc/limit:5\n');

      const first = Number(await shOk(`cat ${snapshot}/svc/ticks`));
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(Number(await shOk(`cat ${snapshot}/svc/ticks`)), 'values are refreshed').to.be.above(first);
      // Files are 0444; root may write them anyway, but a write never reaches the process.
      expect(await shOk(`stat -c %a ${snapshot}/svc/limit`)).to.equal('444\n');
      await sh(`echo 7 > ${snapshot}/svc/limit`);
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(await shOk(`cat ${snapshot}/svc/limit`)).to.equal('5\n');
    } finally {
      mounted.child.kill('SIGTERM');
      fallback.child.kill('SIGTERM');
      await Promise.all([mounted.exited, fallback.exited]);
    }
  });

  it('another user who swaps a snapshot directory for a link between passes gets nothing written or removed outside the snapshot', async function () {
    if (process.getuid!() !== 0) this.skip();  // it needs a second user: root only (CI runs as root)
    this.timeout(20_000);
    const { uid, gid } = otherUser();
    const base = mkdtempSync(path.join(os.tmpdir(), 'procstat-swap-'));
    chmodSync(base, 0o755);
    const snapshot = path.join(base, 'snap'), elsewhere = path.join(base, 'elsewhere');
    mkdirSync(snapshot, { mode: 0o777 });
    chmodSync(snapshot, 0o777);  // another user may write in it
    mkdirSync(elsewhere);
    writeFileSync(path.join(elsewhere, 'running'), 'not procstat\'s\n');
    const ctx = new Procstat();
    ctx.createValue(ctx.createDirectory(null, 'jobs'), 'running', () => 3);
    const savedPath = process.env.PATH;
    const warnings = process.listeners('warning');
    process.removeAllListeners('warning');
    try {
      process.env.PATH = '/nonexistent';  // no fusermount3: the snapshot fallback
      await ctx.mount(snapshot, { fallback: 'snapshot', snapshotIntervalMs: 50 });
      process.env.PATH = savedPath;
      expect(readFileSync(path.join(snapshot, 'jobs', 'running'), 'utf8')).to.equal('3\n');
      const swap = spawnSync('sh', ['-c', 'mv jobs jobs-moved && ln -s ../elsewhere jobs'], { cwd: snapshot, uid, gid, encoding: 'utf8' });
      expect(swap.status, swap.stderr).to.equal(0);
      await new Promise((resolve) => setTimeout(resolve, 300));  // several passes
      expect(readdirSync(elsewhere)).to.deep.equal(['running']);
      expect(readFileSync(path.join(elsewhere, 'running'), 'utf8')).to.equal('not procstat\'s\n');
      await ctx.unmount();
      expect(readdirSync(elsewhere), 'unmount removes nothing through the link').to.deep.equal(['running']);
      expect(existsSync(path.join(snapshot, 'jobs-moved')), 'the moved directory is the other user\'s business now').to.equal(true);
    } finally {
      process.env.PATH = savedPath;
      for (const listener of warnings) process.on('warning', listener);
      await ctx.unmount().catch(() => undefined);
      rmSync(base, { recursive: true, force: true });
    }
  });

  it('a container without /dev/fuse (a mount namespace hiding it) falls back to the snapshot, which a shell reads from outside', async function () {
    if (process.getuid!() !== 0) this.skip();  // a mount namespace: root only (CI runs as root)
    this.timeout(20_000);
    const snapshot = tempPath('container');
    const serveJs = path.join(__dirname, 'fixtures', 'serve.js');
    // As `docker run` without `--device /dev/fuse`: a /dev of its own with the usual devices and no fuse.
    const script = `set -e; keep=$(mktemp -d); mount --bind /dev "$keep"; mount -t tmpfs none /dev
      for d in null zero random urandom; do touch /dev/$d; mount --bind "$keep/$d" /dev/$d; done
      test ! -e /dev/fuse; exec "$0" "$1" snapshot "$2"`;
    const app = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, process.execPath, serveJs, snapshot],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    app.stdout!.on('data', (chunk) => { out += chunk; });
    app.stderr!.on('data', (chunk) => { out += chunk; });
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no READY within 10 s: ${out}`)), 10_000);
        app.stdout!.on('data', () => { if (out.includes('READY')) { clearTimeout(timer); resolve(); } });
        app.once('exit', () => { clearTimeout(timer); reject(new Error(`exited: ${out}`)); });
      });
      expect(out).to.match(/FUSE is not available: \/dev\/fuse is missing.*Writing snapshots of the stats to .* every 100 ms instead/s);
      // What `kubectl exec … cat` or `docker exec … cat` does: read the files from outside the app.
      expect(await shOk(`cat ${snapshot}/svc/name ${snapshot}/svc/limit`)).to.equal('web\n5\n');
      expect(await shOk(`findmnt -n ${snapshot} || echo none`)).to.equal('none\n');
    } finally {
      app.kill('SIGTERM');
      await new Promise((resolve) => (app.exitCode !== null || app.signalCode !== null ? resolve(null) : app.once('exit', resolve)));
    }
  });
});
