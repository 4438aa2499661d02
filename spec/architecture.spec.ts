// Issue 13 (in part): the layers as the code has them. The module graph of the compiled package has
// no cycle, the decorators load nothing of the mount layer, and a decorated class can name its context.
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'fs';
import * as path from 'path';
import { Counter, Procstat, procstat, ProcstatError, StatDir } from '../src';
import { mountTemp } from './helpers/mounts';
import { shOk } from './helpers/shell';

const DIST_SRC = path.join(__dirname, '..', 'src');

/** Every compiled module of the package and the package modules it requires. */
function moduleGraph(): Map<string, string[]> {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (full.endsWith('.js')) files.push(full);
    }
  };
  walk(DIST_SRC);
  return new Map(files.map((file) => [path.relative(DIST_SRC, file), [...readFileSync(file, 'utf8').matchAll(/require\("(\.{1,2}\/[^"]+)"\)/g)]
    .map((m) => path.relative(DIST_SRC, path.resolve(path.dirname(file), m[1])) + '.js')]));
}

function reachable(graph: Map<string, string[]>, from: string[]): Set<string> {
  const seen = new Set<string>();
  const stack = [...from];
  while (stack.length) {
    const file = stack.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    stack.push(...(graph.get(file) ?? []));
  }
  return seen;
}

describe('architecture', () => {
  it('the compiled modules have no import cycle', () => {
    const graph = moduleGraph();
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (file: string, trail: string[]) => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'open') return void cycles.push([...trail.slice(trail.indexOf(file)), file].join(' > '));
      state.set(file, 'open');
      for (const dep of graph.get(file) ?? []) visit(dep, [...trail, file]);
      state.set(file, 'done');
    };
    for (const file of graph.keys()) visit(file, []);
    expect(graph.size).to.be.above(20);
    expect(cycles).to.deep.equal([]);
  });

  it('the decorators load nothing of the mount layer (src/mount, src/fuse, the snapshot writer, the Procstat class)', () => {
    const graph = moduleGraph();
    const decorators = [...graph.keys()].filter((file) => file.startsWith('decorators/'));
    expect(decorators).to.include.members(['decorators/stat-dir.js', 'decorators/fields.js']);
    const loaded = [...reachable(graph, decorators)];
    const mountLayer = ['fuse/', 'mount/', 'snapshot/'];
    expect(loaded.filter((file) => mountLayer.some((dir) => file.startsWith(dir)) || file === 'procstat.js')).to.deep.equal([]);
  });

  it('no source file is over 300 lines', () => {
    const sources = path.join(__dirname, '..', '..', 'src');
    const long: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(full);
        else if (full.endsWith('.ts') && readFileSync(full, 'utf8').split('\n').length > 301) long.push(path.relative(sources, full));
      }
    };
    walk(sources);
    expect(long).to.deep.equal([]);
  });

  it('the addon is split by job: no file in native/ is over 500 lines, and every .c file is built', () => {
    const native = path.join(__dirname, '..', '..', 'native');
    const files = readdirSync(native);
    const long = files.filter((file) => readFileSync(path.join(native, file), 'utf8').split('\n').length > 501);
    expect(long).to.deep.equal([]);
    const gyp = readFileSync(path.join(native, '..', 'binding.gyp'), 'utf8');
    expect(files.filter((file) => file.endsWith('.c') && !gyp.includes(`native/${file}`))).to.deep.equal([]);
  });

  it('@StatDir({ context: ctx }): instances appear in ctx\'s mount, not in the global context', async () => {
    const ctx = new Procstat();
    @StatDir({ name: 'architecture-own', context: ctx })
    class Own {
      @Counter() hits = 3;
    }
    const obj = new Own();
    const mnt = await mountTemp(ctx);
    expect(await shOk(`cat ${mnt}/architecture-own/0/hits`)).to.equal('3\n');
    expect(procstat.lookup(null, 'architecture-own')).to.equal(undefined);
    expect(ctx.lookup(null, 'architecture-own/0/hits')).to.not.equal(undefined);
    ctx.release(obj);
  });

  it('@StatDir({ context }) that is not a Procstat is EINVAL naming the class and the fix, when the class is defined', () => {
    for (const context of [{}, null, 'procstat']) {
      expect(() => StatDir({ context: context as any })(class Wrong {}), String(context)).to.throw(ProcstatError,
        /^@StatDir on Wrong: context must be a Procstat \(new Procstat\(\) or procstat\), not (object|null|string); leave it out/);
    }
  });
});
