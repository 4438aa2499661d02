// Values are produced in batches on the main thread: a scan runs each getter once, readers that
// come together share one call, a reader that comes back gets a value computed after its open (less
// the 5 ms a batch serves), and procstat's JavaScript takes at most its budget per event-loop turn.
import { expect } from 'chai';
import { Procstat } from '../src';
import { mountTemp } from './helpers/mounts';
import { shOk } from './helpers/shell';

/** Busy for `ms` on the main thread: a slow getter. */
function spin(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) { /* busy */ }
}

describe('values in batches', () => {
  it('one grep -r of a directory of 10 values calls each getter once, and the next scan once more', async () => {
    const ctx = new Procstat();
    const calls = new Array(10).fill(0);
    const dir = ctx.createDirectory(null, 'ten');
    for (let i = 0; i < 10; i++) ctx.createValue(dir, `v${i}`, () => ++calls[i] * 100 + i);
    const mnt = await mountTemp(ctx, 'batch');
    const out = await shOk(`grep -r . ${mnt}/ten | sort`);
    expect(out.trim().split('\n')).to.have.length(10);
    expect(calls).to.deep.equal(new Array(10).fill(1));
    await new Promise((resolve) => setTimeout(resolve, 200));
    await shOk(`grep -r . ${mnt}/ten`);
    expect(calls).to.deep.equal(new Array(10).fill(2));
  });

  it('two reads 10 ms apart of a changing value see different values', async () => {
    const ctx = new Procstat();
    const dir = ctx.createDirectory(null, 'clock');
    ctx.createValue(dir, 'ns', () => process.hrtime.bigint());
    ctx.createValue(dir, 'other', () => 1);
    const mnt = await mountTemp(ctx, 'batch');
    for (let i = 0; i < 5; i++) {
      const [a, b] = (await shOk(`cat ${mnt}/clock/ns; sleep 0.01; cat ${mnt}/clock/ns`)).trim().split('\n');
      expect(Number(BigInt(b) - BigInt(a)) / 1e6, `read ${i}: ${a} then ${b} (ms apart)`).to.be.at.least(10);
    }
  });

  it('eight concurrent readers of one slow getter run it once and all see its value', async () => {
    const ctx = new Procstat();
    let calls = 0;
    const dir = ctx.createDirectory(null, 'slow');
    ctx.createValue(dir, 'value', () => { spin(300); return ++calls; });
    const mnt = await mountTemp(ctx, 'batch', { deadlineMs: 10_000 });
    const out = await shOk(`for i in 1 2 3 4 5 6 7 8; do cat ${mnt}/slow/value & done; wait`);
    expect(out.trim().split('\n')).to.deep.equal(new Array(8).fill('1'));
    expect(calls).to.equal(1);
  });

  it('a value read right after a parameter write shows the write (no batch from before it is served)', async () => {
    const ctx = new Procstat();
    let limit = 4;
    const dir = ctx.createDirectory(null, 'pool');
    ctx.createParameter<number>(dir, 'limit', { get: () => limit, set: (v) => { limit = v; } });
    ctx.createValue(dir, 'double', () => limit * 2);
    const mnt = await mountTemp(ctx, 'batch');
    const out = await shOk(`cat ${mnt}/pool/limit ${mnt}/pool/double; echo 8 > ${mnt}/pool/limit; cat ${mnt}/pool/double`);
    expect(out).to.equal('4\n8\n16\n');
  });

  it('reading one file again and again does not keep running its siblings\' getters', async () => {
    const ctx = new Procstat();
    const calls = new Array(5).fill(0);
    const dir = ctx.createDirectory(null, 'watched');
    for (let i = 0; i < 5; i++) ctx.createValue(dir, `v${i}`, () => ++calls[i]);
    const mnt = await mountTemp(ctx, 'batch');
    for (let i = 0; i < 5; i++) await shOk(`cat ${mnt}/watched/v0; sleep 0.02`);
    expect(calls[0]).to.equal(5);
    for (let i = 1; i < 5; i++) expect(calls[i], `v${i}`).to.be.at.most(1);
  });

  it('slow getters past the budget run in separate turns of the event loop, the program\'s callbacks between them', async () => {
    const ctx = new Procstat();
    let turns = 0;
    let running = true;
    const tick = () => { turns++; if (running) setImmediate(tick); };
    tick();
    const seen: number[] = [];
    const dir = ctx.createDirectory(null, 'heavy');
    for (let i = 0; i < 6; i++) ctx.createValue(dir, `v${i}`, () => { seen.push(turns); spin(5); return i; });
    const mnt = await mountTemp(ctx, 'batch', { deadlineMs: 10_000, readBudgetMs: 1 });
    try {
      const out = await shOk(`for i in 0 1 2 3 4 5; do cat ${mnt}/heavy/v$i & done; wait`);
      expect(out.trim().split('\n').sort()).to.deep.equal(['0', '1', '2', '3', '4', '5']);
    } finally {
      running = false;
    }
    expect(seen).to.have.length(6);
    expect(new Set(seen).size, `the turn each getter ran in: ${seen.join(', ')}`).to.equal(6);
  });
});
