// The package as a user gets it: `npm pack`, installed into a fresh app, type-checked with
// `strict: true` in both decorator modes, imported as ESM and required as CommonJS.
// Installing and mounting in every npm install mode is install.spec's.
import { expect } from 'chai';
import { execFile } from 'child_process';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { packed as pack, REPO } from './helpers/pack';
import { sh, shOk } from './helpers/shell';

const CONSUMER = path.join(REPO, 'spec', 'consumer');
const TSC = path.join(REPO, 'node_modules', '.bin', 'tsc');

/**
 * What the tarball holds: every packed file matches one of these patterns (`*` within a directory,
 * `**` across directories) and every pattern matches a packed file. Amend it when the package ships
 * something new (e.g. 'native/**', 'prebuilds/linux-x64/*.node').
 */
const PACKED = [
  'LICENSE',
  'README.md',
  'package.json',
  'esm/index.mjs',
  'esm/index.d.mts',
  'dist/src/**/*.js',
  'dist/src/**/*.d.ts',
  'native/*.c',
  'native/*.h',
  'binding.gyp',
  'prebuilds/linux-x64/procstat.node',
];

/** Runs node (no shell between) in `cwd`; its stdout. */
async function node(args: string[], cwd: string): Promise<string> {
  return (await promisify(execFile)(process.execPath, args, { cwd })).stdout;
}

/**
 * Members that are not public API, used from an app: each must be a compile error once it carries
 * `/** @internal *\/` (stripInternal keeps it out of the .d.ts). `dir` is a DirNode, `file` a FileNode.
 */
const INTERNAL = [
  'procstat.tree', 'procstat.registry', 'procstat.reader', 'procstat.view',
  'dir.id', 'dir.parent', 'dir.hidden', 'dir.markRemoved()', 'dir.pathFrom(null)', 'dir.observer', 'dir.statistics',
  'dir.childrenAreKeys', 'dir.listsLiveObjects', 'dir.refresh()', 'dir.observed()', 'dir.child("a")', 'dir.names()', 'dir.children()',
  'dir.add(file)', 'dir.delete(file)', 'dir.describe()', 'dir.announced()', 'dir.removedAmong(new Map())', 'file.behavior',
];

function globToRegExp(glob: string): RegExp {
  const source = glob.split(/(\*\*\/|\*)/).map((part) =>
    part === '**/' ? '(?:[^/]+/)*' : part === '*' ? '[^/]*' : part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('');
  return new RegExp(`^${source}$`);
}

/** tsconfig of the app for one decorator mode; `types: []`, so only what procstat declares is in. */
function tsconfig(files: string[], legacy: boolean): string {
  const compilerOptions = {
    strict: true, target: 'ES2022', module: 'node16', lib: ['ES2022'], types: [], outDir: 'out',
    ...(legacy ? { experimentalDecorators: true, emitDecoratorMetadata: true } : {}),
  };
  return JSON.stringify({ compilerOptions, files }, null, 2);
}

describe('the packed package in a fresh app', function () {
  this.timeout(180_000);
  let tmp: string;
  let app: string;
  let packed: string[];

  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'procstat-app-'));
    const { tarball, files } = await pack();
    packed = files;
    app = path.join(tmp, 'app');
    await fs.mkdir(app);
    await fs.writeFile(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
    // A TypeScript app for Node has Node's types itself: procstat's are an optional peer, never a second copy.
    await shOk(`npm install --ignore-scripts --no-audit --no-fund --prefer-offline ${tarball} @types/node@20`, app);
    const installed = JSON.parse(await fs.readFile(path.join(app, 'node_modules', 'procstat', 'package.json'), 'utf8'));
    expect(Object.keys(installed.dependencies ?? {}), 'runtime dependencies').to.not.include('@types/node');
    for (const name of ['app', 'mistakes']) {
      const source = await fs.readFile(path.join(CONSUMER, `${name}.ts`), 'utf8');
      await fs.writeFile(path.join(app, `${name}.ts`), source);
      await fs.writeFile(path.join(app, `${name}.mts`), source);
    }
    await fs.copyFile(path.join(CONSUMER, 'plain.js'), path.join(app, 'plain.js'));
    await fs.writeFile(path.join(app, 'tsconfig.legacy.json'), tsconfig(['app.ts', 'mistakes.ts'], true));
    await fs.writeFile(path.join(app, 'tsconfig.tc39.json'), tsconfig(['app.mts', 'mistakes.mts'], false));
  });

  after(async () => {
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  it('packs only what a user needs', () => {
    const patterns = PACKED.map(globToRegExp);
    expect(packed.filter((file) => !patterns.some((p) => p.test(file))), 'packed files no pattern allows').to.deep.equal([]);
    expect(PACKED.filter((_, i) => !packed.some((file) => patterns[i].test(file))), 'patterns nothing matched').to.deep.equal([]);
    expect(packed).to.include.members(['dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/cli.js']);
    expect(packed.filter((file) => file.endsWith('.map') || file.startsWith('scripts/install'))).to.deep.equal([]);
  });

  it('declares linux, MIT with a LICENSE, and an exports map whose files are all packed', async () => {
    const manifest = JSON.parse(await fs.readFile(path.join(app, 'node_modules', 'procstat', 'package.json'), 'utf8'));
    expect(manifest.os).to.deep.equal(['linux']);
    expect(manifest.license).to.equal('MIT');
    const license = await fs.readFile(path.join(app, 'node_modules', 'procstat', 'LICENSE'), 'utf8');
    expect(license).to.match(/^MIT License\n\nCopyright \(c\) \d{4} procstat developers\n/);
    const targets: string[] = [];
    const collect = (entry: unknown): void => {
      if (typeof entry === 'string') targets.push(entry.replace(/^\.\//, ''));
      else if (entry && typeof entry === 'object') Object.values(entry).forEach(collect);
    };
    collect(manifest.exports['.']);
    expect(targets).to.have.members(['esm/index.d.mts', 'esm/index.mjs', 'dist/src/index.d.ts', 'dist/src/index.js']);
    expect(packed).to.include.members(targets);
  });

  for (const [mode, config] of [['experimentalDecorators, CommonJS', 'legacy'], ['TC39 decorators, ESM', 'tc39']]) {
    it(`type-checks an app and its mistakes with strict: true (${mode})`, async () => {
      const result = await sh(`${TSC} -p tsconfig.${config}.json`, app);
      expect(result.stdout + result.stderr).to.equal('');
      expect(result.code).to.equal(0);
    });
  }

  it('keeps internal members out of the .d.ts', async () => {
    const lines = INTERNAL.map((expr) => `// @ts-expect-error internal\nvoid ${expr};`);
    await fs.writeFile(path.join(app, 'internal.ts'), [
      `import { procstat } from 'procstat';`,
      `const dir = procstat.createDirectory(null, 'd');`,
      `const file = procstat.createValue(dir, 'v', () => 1);`,
      'procstat.remove(file);', // public: an item goes back to remove()
      ...lines,
    ].join('\n'));
    await fs.writeFile(path.join(app, 'tsconfig.internal.json'), tsconfig(['internal.ts'], true));
    const result = await sh(`${TSC} -p tsconfig.internal.json --noEmit`, app);
    expect(result.stdout + result.stderr).to.equal('');
  });

  it('runs the compiled app the same in both modes', async () => {
    const legacy = await node(['out/app.js'], app);
    const tc39 = await node(['out/app.mjs'], app);
    for (const out of [legacy, tc39]) {
      expect(out.split('\n')).to.include.members(['error EINVAL', 'http_requests_total{http="8080"} 3',
        'http_bytes_out_total{http="8080"} 10', 'http_connections{http="8080"} 2', 'http_errors_total{http="8080"} 1',
        'http_latency_count{http="8080"} 2', 'worker_jobs_done_total{worker="a"} 1']);
    }
    expect(legacy.split('\n').sort()).to.deep.equal(tc39.split('\n').sort());
  });

  it('imports as real ESM: the CommonJS exports by name, no __esModule, one default context', async () => {
    const script = `import * as ns from 'procstat'; import { procstat, StatDir } from 'procstat';
      import { createRequire } from 'module'; const cjs = createRequire(import.meta.url)('procstat');
      console.log(JSON.stringify({ esm: Object.keys(ns).sort(), cjs: Object.keys(cjs).sort(),
        same: procstat === cjs.procstat && StatDir === cjs.StatDir, context: procstat instanceof ns.Procstat }));`;
    const out = JSON.parse(await node(['--input-type=module', '-e', script], app));
    expect(out.esm).to.not.include('__esModule');
    expect(out.esm).to.include.members(['procstat', 'Procstat', 'ProcstatError', 'StatDir', 'Counter', 'Series', 'Histogram']);
    expect(out.esm).to.deep.equal(out.cjs.filter((name: string) => name !== '__esModule'));
    expect(out.same).to.equal(true);
    expect(out.context).to.equal(true);
  });

  it('requires as CommonJS', async () => {
    const script = `const p = require('procstat'); const s = new p.Series(); s.addPoint(4); s.addPoint(6);
      console.log(p.procstat instanceof p.Procstat, typeof p.StatDir, s.mean, new p.Histogram([0.5]).fractions[0]);`;
    expect(await node(['-e', script], app)).to.equal('true function 5 0.5\n');
  });

  it('works from plain JavaScript with the decorators applied by hand (README "Use it in your app")', async () => {
    const out = await node(['plain.js'], app);
    expect(out.split('\n')).to.include.members(['worker_jobs_done_total{worker="0"} 5', 'worker_concurrency{worker="0"} 4',
      'worker_queue_depth{worker="0"} 2', 'worker_latency_count{worker="0"} 1',
      "@Counter on Late.hits: applied after @StatDir, which has read the class's fields already, so it would never show; " +
      "apply field decorators first, as TypeScript does (by hand: Counter()(Late.prototype, 'hits') before StatDir()(Late))"]);
  });
});
