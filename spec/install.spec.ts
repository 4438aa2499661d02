// Installed as a dependency, the way users install it: the packed tarball into a fresh app, in
// every npm install mode, with no C compiler on $PATH (the prebuilt addon must be used). In each,
// an app mounts, `cat` reads a value, and reads it again while the app's main thread is blocked.
import { expect } from 'chai';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { packed } from './helpers/pack';
import { shOk } from './helpers/shell';
import { tempPath, isMounted } from './helpers/mounts';

/** Stand-ins for every compiler and make: they leave a mark and fail, so a build cannot happen unseen. */
async function noCompilerPath(dir: string): Promise<{ path: string; mark: string }> {
  const bin = path.join(dir, 'no-compiler');
  const mark = path.join(dir, 'a-compiler-was-called');
  await fs.mkdir(bin);
  for (const name of ['cc', 'gcc', 'g++', 'c++', 'clang', 'make']) {
    await fs.writeFile(path.join(bin, name), `#!/bin/sh\necho "$0 $*" >> ${mark}\nexit 1\n`, { mode: 0o755 });
  }
  return { path: `${bin}:${process.env.PATH}`, mark };
}

// The app: mounts, reads once, then blocks its main thread for 2 s while a reader reads again.
const CHECK = `
const { Procstat } = require('procstat');
const { spawn } = require('child_process');
const ctx = new Procstat();
let reads = 0;
ctx.createValue(null, 'v', () => ++reads);
function run(command) {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', command]);
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    child.on('exit', () => resolve(out.trim()));
  });
}
(async () => {
  await ctx.mount(process.argv[2]);
  const first = await run('cat ' + ctx.mountpoint + '/v');
  const again = run('sleep 0.5; cat ' + ctx.mountpoint + '/v; date +%s%3N');
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2000);
  const unblocked = Date.now();
  const [value, answeredAt] = (await again).split('\\n');
  await ctx.unmount();
  console.log(JSON.stringify({ first, value, answeredWhileBlocked: Number(answeredAt) < unblocked }));
})().catch((err) => { console.log(JSON.stringify({ error: err.message })); process.exitCode = 1; });
`;

const MODES: Array<{ label: string; install: (tarball: string, app: string, env: NodeJS.ProcessEnv) => Promise<void> }> = [
  { label: 'default npm install', install: (t, app, env) => npmIn(app, `install ${t}`, env) },
  { label: 'npm ci from the app\'s lockfile', install: async (t, app, env) => {
    const first = `${app}-first`;
    await fs.mkdir(first);
    await fs.writeFile(path.join(first, 'package.json'), appManifest());
    await npmIn(first, `install ${t}`, env);
    for (const file of ['package.json', 'package-lock.json']) await fs.copyFile(path.join(first, file), path.join(app, file));
    await npmIn(app, 'ci', env);
  } },
  { label: '--install-strategy=linked', install: (t, app, env) => npmIn(app, `install --install-strategy=linked ${t}`, env) },
  { label: '--ignore-scripts', install: (t, app, env) => npmIn(app, `install --ignore-scripts ${t}`, env) },
  { label: 'CI=true', install: (t, app, env) => npmIn(app, `install ${t}`, { ...env, CI: 'true' }) },
];

function appManifest(): string {
  return JSON.stringify({ name: 'app', version: '1.0.0', private: true });
}

async function npmIn(app: string, args: string, env: NodeJS.ProcessEnv): Promise<void> {
  const quoted = Object.entries(env).filter(([k]) => ['PATH', 'CI'].includes(k)).map(([k, v]) => `${k}='${v}'`).join(' ');
  await shOk(`env ${quoted} npm ${args} --no-audit --no-fund --prefer-offline`, app);
}

describe('installed from the packed tarball, in a fresh app', function () {
  this.timeout(180_000);
  let tmp: string;
  let tarball: string;

  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'procstat-install-'));
    ({ tarball } = await packed());
  });

  after(async () => {
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  for (const mode of MODES) {
    it(`${mode.label}, no compiler on $PATH: mounts, cat reads, and reads again while the main thread is blocked 2 s`, async () => {
      const app = path.join(tmp, mode.label.replace(/[^a-z]+/gi, '-'));
      await fs.mkdir(app);
      await fs.writeFile(path.join(app, 'package.json'), appManifest());
      const noCompiler = await noCompilerPath(app);
      const env = { ...process.env, PATH: noCompiler.path };
      await mode.install(tarball, app, env);
      await fs.writeFile(path.join(app, 'check.js'), CHECK);
      const mnt = tempPath('installed');
      const result = JSON.parse(await shOk(`env PATH='${noCompiler.path}' node check.js ${mnt}`, app));
      expect(result).to.deep.equal({ first: '1', value: '1', answeredWhileBlocked: true });
      expect(await fs.access(noCompiler.mark).then(() => 'a compiler ran', () => 'none'), 'compiler calls').to.equal('none');
      expect(isMounted(mnt)).to.equal(false);
    });
  }
});
