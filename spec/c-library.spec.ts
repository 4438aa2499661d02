// The C library's own test cases, ported onto the TypeScript API and checked through a real mount.
import { expect } from 'chai';
import { Procstat, ProcstatError } from '../src';
import { mountTemp } from './helpers/mounts';
import { sh, shOk } from './helpers/shell';

function expectCode(fn: () => unknown, code: string, message?: RegExp): void {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(ProcstatError);
    expect((err as ProcstatError).code).to.equal(code);
    if (message) expect((err as Error).message).to.match(message);
    return;
  }
  expect.fail(`expected ProcstatError ${code}`);
}

describe('C library test cases on a real mount', () => {
  let ctx: Procstat;
  let mnt: string;

  beforeEach(async () => {
    ctx = new Procstat();
    mnt = await mountTemp(ctx);
  });

  it('a parameter reads 0, then 10 after the variable changes; removeByName removes it', async () => {
    let variable = 0;
    ctx.createParameter(null, 'param', { get: () => variable, set: (v: number) => { variable = v; } });
    expect(await shOk(`cat ${mnt}/param`)).to.equal('0\n');
    variable = 10;
    expect(await shOk(`cat ${mnt}/param`)).to.equal('10\n');
    ctx.removeByName(null, 'param');
    const gone = await sh(`cat ${mnt}/param`);
    expect(gone.code).to.not.equal(0);
    expect(gone.stderr).to.match(/No such file or directory/);
  });

  it('directory names: "/" rejected, duplicates EEXIST, re-creatable after remove, 64 characters fine', async () => {
    expectCode(() => ctx.createDirectory(null, 'dir/1'), 'EINVAL', /"dir\/1"/);
    const dir1 = ctx.createDirectory(null, 'dir1');
    expectCode(() => ctx.createDirectory(null, 'dir1'), 'EEXIST', /dir1/);
    ctx.remove(dir1);
    ctx.createDirectory(null, 'dir1');
    const long = 'd'.repeat(64);
    ctx.createDirectory(null, long);
    expect((await shOk(`ls ${mnt}`)).split('\n')).to.include.members(['dir1', long]);
  });

  it('value_90% is rejected', () => {
    expectCode(() => ctx.createValue(null, 'value_90%', () => 1), 'EINVAL', /value_90%/);
  });

  it('10 outer × 10 inner × 10 values read 0, then 1; lookup; remove and re-create outer-0', async function () {
    const counters = new Map<string, number>();
    const build = (o: number) => {
      const outer = ctx.createDirectory(null, `outer-${o}`);
      for (let i = 0; i < 10; i++) {
        const inner = ctx.createDirectory(outer, `inner-${i}`);
        for (let v = 0; v < 10; v++) {
          const key = `outer-${o}/inner-${i}/value-${v}`;
          counters.set(key, 0);
          ctx.createValue(inner, `value-${v}`, () => counters.get(key));
        }
      }
    };
    for (let o = 0; o < 10; o++) build(o);
    const before = await shOk(`cd ${mnt} && grep -r . outer-* | sort`);
    const lines = before.trim().split('\n');
    expect(lines).to.have.length(1000);
    expect(lines.every((line) => line.endsWith(':0'))).to.equal(true);
    for (const key of counters.keys()) counters.set(key, counters.get(key)! + 1);
    const sum = await shOk(`cat ${mnt}/outer-*/inner-*/value-* | awk '{ s += $1 } END { print s }'`);
    expect(sum.trim()).to.equal('1000');
    expect(ctx.lookup(null, 'outer-0/inner-3/value-6')?.name).to.equal('value-6');
    ctx.remove(ctx.lookup(null, 'outer-0')!);
    expect((await sh(`ls ${mnt}/outer-0`)).code).to.not.equal(0);
    expect(await shOk(`ls -d ${mnt}/outer-* | wc -l`)).to.equal('9\n');
    build(0);
    expect(await shOk(`cat ${mnt}/outer-0/inner-3/value-6`)).to.equal('0\n');
  });

  it('a custom formatter', async () => {
    ctx.createValue(null, 'temperature', () => 21.5, { format: (v: number) => `${v.toFixed(2)} C` });
    ctx.createValue(null, 'flags', () => 255, { format: 'hex' });
    ctx.createValue(null, 'pointer', () => 0x7f001234n, { format: 'address' });
    expect(await shOk(`cat ${mnt}/temperature ${mnt}/flags ${mnt}/pointer`)).to.equal('21.50 C\nff\n0x7f001234\n');
  });

  it('four start/end pairs read 1/2 … 7/8; twice is EEXIST; removing their directory removes them', async () => {
    const dir = ctx.createDirectory(null, 'pairs');
    const values = [1, 2, 3, 4, 5, 6, 7, 8];
    for (let i = 0; i < 4; i++) {
      ctx.createStartEnd(dir, `s${i + 1}`, { start: () => values[2 * i], end: () => values[2 * i + 1] });
    }
    expectCode(() => ctx.createStartEnd(dir, 's1', { start: () => 0, end: () => 0 }), 'EEXIST');
    const out = await shOk(`cd ${mnt}/pairs && for s in s1 s2 s3 s4; do echo "$(cat $s/start)/$(cat $s/end)"; done`);
    expect(out).to.equal('1/2\n3/4\n5/6\n7/8\n');
    ctx.remove(dir);
    expect((await sh(`ls ${mnt}/pairs/s1`)).code).to.not.equal(0);
  });

  it('a start/end pair of plain values is read from its object at every read', async () => {
    const window = { start: 1, end: 2n };
    ctx.createStartEnd(null, 'window', window);
    expect(await shOk(`cat ${mnt}/window/start ${mnt}/window/end`)).to.equal('1\n2\n');
    window.end = 5n;
    expect(await shOk(`cat ${mnt}/window/end`)).to.equal('5\n');
  });

  it('ten series s1…s10 each expose all series files', async () => {
    for (let i = 1; i <= 10; i++) ctx.createSeries(null, `s${i}`);
    const expected = 'avg count get_reset_interval_sec last max mean min reset reset_interval_sec stddev sum';
    for (let i = 1; i <= 10; i++) {
      expect((await shOk(`ls ${mnt}/s${i} | sort | xargs`)).trim()).to.equal(expected);
    }
  });

  it('a series fed 20 points reads its own statistics; reset; 200 more points', async () => {
    const series = ctx.createSeries(null, 'latency');
    for (let i = 0; i < 20; i++) series.addPoint((i * 37) % 23);
    const read = async (file: string) => Number(await shOk(`cat ${mnt}/latency/${file}`));
    expect(await read('count')).to.equal(series.count).and.equal(20);
    expect(await read('sum')).to.equal(series.sum);
    expect(await read('min')).to.equal(series.min);
    expect(await read('max')).to.equal(series.max);
    expect(await read('last')).to.equal(series.last);
    expect(await read('mean')).to.equal(series.mean);
    expect(await read('stddev')).to.be.closeTo(series.stddev, 1e-9);
    await shOk(`echo 1 > ${mnt}/latency/reset`);
    expect(await read('count')).to.equal(0);
    for (let i = 0; i < 200; i++) series.addPoint(i);
    expect(await read('count')).to.equal(200);
  });

  it('a histogram fed 0…999,999 reads count, sum and percentiles within 1%; reset by writing 1', async () => {
    const fractions = [0.1, 0.6, 0.9, 0.99, 0.9999];
    const histogram = ctx.createHistogram(null, 'h', fractions);
    for (let i = 0; i < 1_000_000; i++) histogram.addPoint(i);
    expect(await shOk(`cat ${mnt}/h/count ${mnt}/h/sum`)).to.equal('1000000\n499999500000\n');
    for (const [file, fraction] of [['10', 0.1], ['60', 0.6], ['90', 0.9], ['99', 0.99], ['99.99', 0.9999]] as const) {
      const exact = fraction * 999_999;
      expect(Number(await shOk(`cat ${mnt}/h/${file}`)), file).to.be.within(exact * 0.99, exact * 1.01);
    }
    await shOk(`echo 1 > ${mnt}/h/reset`);
    expect(await shOk(`cat ${mnt}/h/count`)).to.equal('0\n');
  });

  it('a write-only control file whose writer sets a variable', async () => {
    let variable = 0;
    ctx.createParameter(null, 'control', { type: 'int', set: (v: number) => { variable = v; } });
    expect(await shOk(`stat -c %a ${mnt}/control`)).to.equal('200\n');
    await shOk(`echo 42 > ${mnt}/control`);
    expect(variable).to.equal(42);
    expect((await sh(`cat ${mnt}/control`)).stderr).to.match(/Permission denied/);
  });
});
