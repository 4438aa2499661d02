// The runtime alone, without FUSE: formatting, parsing, statistics, names.
import { expect } from 'chai';
import { inspect } from 'util';
import { Counter, Gauge, Histogram, Parameter, Procstat, ProcstatError, Series, Stat, StatDir } from '../src';
import { aggregate } from '../src/runtime/aggregator';
import { formatAddress, formatDecimal, formatHex } from '../src/runtime/format';
import { percentileName } from '../src/runtime/histogram';
import { IntTable } from '../src/runtime/int-table';
import { DirNode, Node } from '../src/runtime/nodes';
import { sanitizeName } from '../src/runtime/names';
import { parseValue } from '../src/runtime/parse';

describe('runtime (no FUSE)', () => {
  it('removedAmong answers as removed does, walking each directory once for many nodes of one deep tree', () => {
    const root = new DirNode('root');
    let dir = root;
    const chain: DirNode[] = [];
    for (let i = 0; i < 1000; i++) chain.push(dir = dir.add(new DirNode('d')));
    const files = Array.from({ length: 50 }, (_, i) => dir.add(new DirNode(`f${i}`)));
    chain[499].delete(chain[500]);  // a directory halfway down goes
    const seen = new Map<Node, boolean>();
    for (const node of [...files, chain[499], chain[500], chain[501], chain[0]]) {
      expect(node.removedAmong(seen), node.pathFrom(null)).to.equal(node.removed);
    }
    expect(files.every((file) => file.removedAmong(seen))).to.equal(true);
    expect(chain[499].removedAmong(seen)).to.equal(false);
    // Each node is looked at once: 50 files, the 500 directories from the deepest up to the removed
    // one, and the 500 above it with the root (walked for chain[499]).
    expect(seen.size).to.equal(50 + 500 + 501);
  });

  it('formats values', () => {
    expect(formatDecimal(42)).to.equal('42');
    expect(formatDecimal(2 ** 70)).to.equal('1180591620717411303424');
    expect(formatDecimal(0.1)).to.equal('0.1');
    expect(formatDecimal(-3n)).to.equal('-3');
    expect(formatDecimal(false)).to.equal('0');
    expect(formatHex(255)).to.equal('ff');
    expect(formatAddress(-1)).to.equal('0xffffffffffffffff');
    expect(formatAddress(255)).to.equal('0xff');
  });

  it('parses parameter writes strictly', () => {
    expect(parseValue('5\n', 'int')).to.equal(5);
    expect(parseValue(' -7 ', 'int')).to.equal(-7);
    expect(parseValue('0x10', 'uint')).to.equal(16);
    expect(() => parseValue('-1', 'uint')).to.throw(/not a valid uint/);
    expect(() => parseValue('9007199254740993', 'int')).to.throw(/not a valid int/);
    expect(parseValue('2.5e3', 'number')).to.equal(2500);
    expect(() => parseValue('NaN', 'number')).to.throw(/not a valid number/);
    expect(parseValue('123456789012345678901234567890', 'bigint')).to.equal(123456789012345678901234567890n);
    expect(parseValue('on', 'boolean')).to.equal(true);
    expect(parseValue('0\n', 'boolean')).to.equal(false);
    expect(() => parseValue('maybe', 'boolean')).to.throw(/not a valid boolean/);
    expect(parseValue(' two words \n', 'string')).to.equal(' two words ');
  });

  it('bad value and parameter options fail where they are given, naming the item and the fix', () => {
    const ctx = new Procstat();
    const set = () => undefined;
    const refusals: Array<[() => unknown, string]> = [
      [() => ctx.createParameter(null, 'p', { set, type: 'float' as any }),
        'createParameter "p": type "float" is not one of int, uint, number, bigint, boolean, string'],
      [() => ctx.createParameter(null, 'p', { set, min: 10, max: 1 }), 'createParameter "p": min 10 is above max 1, so no value could be written'],
      [() => ctx.createParameter(null, 'p', { set, min: '1' as any }), 'createParameter "p": min "1" is not a number or bigint'],
      [() => ctx.createParameter(null, 'p', { set, validate: 5 as any }),
        'createParameter "p": validate must be a function returning true, false or a message'],
      [() => ctx.createValue(null, 'v', () => 1, { format: 'octal' as any }),
        'createValue "v": format "octal" is not \'decimal\', \'hex\', \'address\' or a function'],
      [() => { class Bad { level = 4; } Parameter({ min: 10, max: 1 })(Bad.prototype, 'level'); return StatDir()(Bad); },
        '@Parameter on Bad.level: min 10 is above max 1, so no value could be written'],
      [() => { class Bad { level = 4; } Gauge({ format: 'octal' as any })(Bad.prototype, 'level'); return StatDir()(Bad); },
        '@Gauge on Bad.level: format "octal" is not \'decimal\', \'hex\', \'address\' or a function'],
    ];
    refusals.push([() => StatDir()(StatDir()(class Twice {})), '@StatDir on Twice: the class is already a @StatDir class; apply @StatDir once']);
    refusals.push([() => ctx.createValue(null, 'procstat', () => 1), '"procstat" is reserved at the root for the mount\'s own status']);
    refusals.push([() => ctx.createValue(null, 'v', 5 as any), 'createValue "v": get must be a function returning the value']);
    refusals.push([() => ctx.createParameter(null, 'p', { get: () => 1 } as any), 'createParameter "p": options.set must be a function']);
    refusals.push([() => ctx.createStartEnd(null, 's', null as any), 'createStartEnd "s": pass { start, end } (values or functions) or a StartEnd']);
    for (const [make, message] of refusals) {
      expect(make).to.throw(ProcstatError, message).with.property('code', 'EINVAL');
    }
    expect(ctx.lookup(null, 'p')).to.equal(undefined);
  });

  it('a parameter that holds a Date takes ISO-8601 dates; anything else is EINVAL and keeps the Date', () => {
    const ctx = new Procstat();
    let deadline = new Date(Date.UTC(2026, 0, 2));
    const file = ctx.createParameter(null, 'deadline', { get: () => deadline, set: (value: Date) => { deadline = value; } });
    ctx.reader.writeFile(file, '2026-03-04T05:06:07.000Z\n');
    expect(deadline).to.be.instanceOf(Date);
    expect(deadline.toISOString()).to.equal('2026-03-04T05:06:07.000Z');
    for (const bad of ['garbage', '1', '', '2026-13-45', '2026-02-30', '2026-02-29T00:00:00Z']) {
      expect(() => ctx.reader.writeFile(file, `${bad}\n`), bad).to.throw(ProcstatError, 'is not a valid date; write it as ISO-8601');
    }
    expect(deadline.toISOString()).to.equal('2026-03-04T05:06:07.000Z');
  });

  it('a second class of one directory name in a context says which name is taken and how to fix it', () => {
    const ctx = new Procstat();
    const make = () => { class Config { v = 1; } Counter()(Config.prototype, 'v'); return StatDir({ context: ctx })(Config); };
    const [First, Second] = [make(), make()];
    void new First();
    expect(() => new Second()).to.throw(ProcstatError,
      '@StatDir Config: "Config" already exists at the mount root; give the class another name with @StatDir({ name: \'…\' })');
  });

  it('release() of something that is not an object is EINVAL saying what it takes', () => {
    const ctx = new Procstat();
    for (const [bad, shown] of [[null, 'null'], [undefined, 'undefined'], [5, 'number']] as const) {
      expect(() => ctx.release(bad as any)).to.throw(ProcstatError, `release() takes a @StatDir instance, not ${shown}`);
    }
  });

  it('series: Welford mean and sample standard deviation', () => {
    const series = new Series();
    for (const v of [2, 4, 4, 4, 5, 5, 7, 9]) series.addPoint(v);
    expect(series.mean).to.equal(5);
    expect(series.avg).to.equal(5);
    expect(series.stddev).to.be.closeTo(Math.sqrt(32 / 7), 1e-12);
    expect([series.min, series.max, series.last, series.count, series.sum]).to.deep.equal([2, 9, 9, 8, 40]);
  });

  it('series and histogram reset themselves after reset_interval_sec', async () => {
    const series = new Series();
    series.resetInterval.seconds = 0.05;
    series.addPoint(1);
    await new Promise((r) => setTimeout(r, 60));
    series.refresh();
    expect(series.count).to.equal(0);
  });

  it('histogram memory is bounded by the range of values, not their number', () => {
    const histogram = new Histogram([0.5]);
    for (let i = 0; i < 200_000; i++) histogram.addPoint(1 + (i % 1000));
    const buckets = (histogram as any).positive.size;
    for (let i = 0; i < 800_000; i++) histogram.addPoint(1 + (i % 1000));
    expect((histogram as any).positive.size).to.equal(buckets).and.be.below(1500);
    expect(histogram.percentile(0.5)).to.be.closeTo(500, 5);
  });

  it('histogram handles negative values and zeros', () => {
    const histogram = new Histogram([0, 0.5, 1]);
    for (const v of [-100, -10, 0, 0, 10, 100]) histogram.addPoint(v);
    expect(histogram.percentile(0)).to.be.closeTo(-100, 1);
    expect(histogram.percentile(0.5)).to.equal(0);
    expect(histogram.percentile(1)).to.be.closeTo(100, 1);
  });

  it('percentile file names use up to 4 significant digits', () => {
    expect([0.5, 0.9, 0.99, 0.9999, 0.1, 0.999].map(percentileName)).to.deep.equal(['50', '90', '99', '99.99', '10', '99.9']);
  });

  it('sanitizes instance keys into names', () => {
    expect(sanitizeName('GET /users/:id')).to.equal('GET__users__id');
    expect(sanitizeName('..')).to.equal('__');
    expect(sanitizeName('')).to.equal('_');
  });

  it('the aggregator text is tree-ordered relative paths', () => {
    const ctx = new Procstat();
    const dir = ctx.createDirectory(null, 'd');
    ctx.createValue(dir, 'a', () => 1);
    ctx.createValue(ctx.createDirectory(dir, 'sub'), 'b', () => 'x');
    expect(aggregate(ctx.tree.root, ctx.reader)).to.equal('d/a:1\nd/sub/b:x\n');
  });

  it('an IntTable keeps integer keys in chunks that come and go with their entries', () => {
    const table = new IntTable<string>();
    for (let key = 0; key < 1000; key++) table.set(key, `v${key}`);
    table.set(2 ** 60, 'status');
    expect(table.size).to.equal(1001);
    expect(table.get(999)).to.equal('v999');
    expect(table.get(2 ** 60)).to.equal('status');
    expect([table.get(1000), table.get(-1), table.get(1.5), table.get('01' as unknown as number)]).to.deep.equal([undefined, undefined, undefined, undefined]);
    table.set(5, 'again');
    expect(table.size).to.equal(1001);
    for (let key = 0; key < 1000; key += 2) expect(table.delete(key)).to.equal(true);
    expect(table.delete(0)).to.equal(false);
    expect(table.size).to.equal(501);
    const seen: number[] = [];
    for (const [key, value] of table.entries()) {
      seen.push(key);
      if (key === 1) table.delete(3);       // seen as gone
      if (key === 7) table.set(9999, 'late'); // seen: a chunk made while iterating
      expect(value).to.equal(key === 5 ? 'again' : key === 2 ** 60 ? 'status' : key === 9999 ? 'late' : `v${key}`);
    }
    expect(seen.slice(0, 4)).to.deep.equal([1, 5, 7, 9]);
    expect(seen).to.include(9999);
    expect(seen).to.have.length(501);
    expect(() => table.set(-2, 'x')).to.throw(RangeError);
    // The chunks of deleted entries are dropped: what is left of a million entries costs nothing.
    for (let key = 0; key < 1_000_000; key++) table.set(key, 'x');
    for (let key = 0; key < 1_000_000; key++) table.delete(key);
    expect(table.size).to.equal(1);
    expect((table as unknown as { chunks: Map<number, unknown> }).chunks.size).to.equal(1);
    table.clear();
    expect([...table.keys()]).to.deep.equal([]);
  });

  it('what procstat keeps on instances shows nowhere on them, frozen ones are listed and released too', () => {
    const ctx = new Procstat();
    @StatDir({ name: 'Frozen', context: ctx })
    class Frozen {
      @Counter() hits = 1;
      constructor() { Object.freeze(this); }
    }
    @StatDir({ name: 'Holder', context: ctx })
    class Holder {
      @Stat() held: Frozen | null = new Frozen();
    }
    const [a, b, holder] = [new Frozen(), new Frozen(), new Holder()];
    const names = (dir: string) => (ctx.lookup(null, dir) as unknown as { names(): string[] }).names();
    expect(names('Frozen')).to.deep.equal(['0', '1']); // 2, made by Holder, is shown under it
    ctx.release(a);
    expect(names('Frozen')).to.deep.equal(['1']);
    for (const obj of [a, b, holder]) {
      expect(Reflect.ownKeys(obj)).to.deep.equal(obj === holder ? ['held'] : ['hits']);
      expect(inspect(obj, { showHidden: true })).to.not.match(/procstat|Symbol/);
    }
  });

  it('a constructor that returns an instance made before (a cache) gets it back, shown once', () => {
    const ctx = new Procstat();
    let cached: Cached | undefined;
    @StatDir({ name: 'Cached', context: ctx })
    class Cached {
      @Counter() hits = 0;
      constructor() {
        if (cached) return cached;
        cached = this; // eslint-disable-line @typescript-eslint/no-this-alias
      }
    }
    const [a, b] = [new Cached(), new Cached()];
    expect(a).to.equal(b);
    const names = () => (ctx.lookup(null, 'Cached') as unknown as { names(): string[] }).names();
    const created = () => String(ctx.reader.readFile(ctx.lookup(null, 'procstat/classes/Cached/created') as never));
    expect(names()).to.deep.equal(['0']);
    expect(created()).to.equal('1\n');
    ctx.release(a);
    expect(new Cached()).to.equal(a); // released: not shown again, not counted again
    expect(names()).to.deep.equal([]);
    expect(created()).to.equal('1\n');
  });

  it("a constructor that returns another class's instance does not show it a second time under its own class", () => {
    const ctx = new Procstat();
    @StatDir({ name: 'Kept', context: ctx })
    class Kept { @Counter() d = 1; }
    const kept = new Kept();
    @StatDir({ name: 'Lender', context: ctx })
    class Lender {
      @Counter() e = 1;
      constructor() { return kept as unknown as Lender; }
    }
    expect(new Lender()).to.equal(kept);
    expect(ctx.lookup(null, 'Lender')).to.equal(undefined);
    expect((ctx.lookup(null, 'Kept') as unknown as { names(): string[] }).names()).to.deep.equal(['0']);
    expect(ctx.lookup(null, 'procstat/classes/Lender')).to.equal(undefined);
  });

  it("release() through another context than the class's is refused, naming the fix, and changes nothing", () => {
    const [one, two] = [new Procstat(), new Procstat()];
    @StatDir({ name: 'Conn', key: 'id', context: two })
    class Conn {
      @Counter() sent = 0;
      constructor(readonly id: string) {}
    }
    const a = new Conn('a');
    const err = (() => { try { one.release(a); } catch (e) { return e; } })() as ProcstatError;
    expect(err).to.be.instanceOf(ProcstatError);
    expect(err.code).to.equal('EINVAL');
    expect(err.message).to.equal('release(): Conn instances are shown by another context; call release() on the context its ' +
      '@StatDir names (@StatDir({ context }))');
    new Conn('a');
    expect((two.lookup(null, 'Conn') as unknown as { names(): string[] }).names()).to.deep.equal(['a', 'a-1']);
    expect(one.lookup(null, 'procstat/classes/Conn')).to.equal(undefined);
    one.release({}); // not a @StatDir instance: nothing to remove
  });
});
