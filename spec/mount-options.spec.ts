// validateMountOptions: a pure check of mount()'s numeric options (issue 11 item 6), without FUSE.
import { expect } from 'chai';
import fc from 'fast-check';
import { ProcstatError } from '../src';
import { MAX_TIMER_MS, validateMountOptions } from '../src/mount/options';

function refusal(options: unknown): ProcstatError {
  try {
    validateMountOptions(options);
  } catch (err) {
    expect(err).to.be.instanceOf(ProcstatError);
    return err as ProcstatError;
  }
  throw new Error(`${JSON.stringify(options)} was accepted`);
}

describe('validateMountOptions', () => {
  it('issue 11 item 6: deadlineMs -5, NaN, Infinity, 0 or "100" is EINVAL naming the option and the range', () => {
    for (const bad of [-5, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0, 0.5, MAX_TIMER_MS + 1, '100', null, 100n, {}]) {
      const err = refusal({ deadlineMs: bad });
      expect(err.code).to.equal('EINVAL');
      expect(err.message).to.include('deadlineMs').and.include(`from 1 to ${MAX_TIMER_MS}`);
    }
    expect(refusal({ deadlineMs: -5 }).message).to.include('-5');
    expect(refusal({ deadlineMs: '100' }).message).to.include('"100"');
  });

  it('issue 11 item 6: snapshotIntervalMs is checked the same way', () => {
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, 0, '1000', true]) {
      const err = refusal({ fallback: 'snapshot', snapshotIntervalMs: bad });
      expect(err.code).to.equal('EINVAL');
      expect(err.message).to.include('snapshotIntervalMs').and.include(`from 1 to ${MAX_TIMER_MS}`);
    }
  });

  it('fallback is \'snapshot\' or left out', () => {
    for (const bad of ['bogus', 'Snapshot', true, 1]) {
      const err = refusal({ fallback: bad });
      expect(err.code).to.equal('EINVAL');
      expect(err.message).to.match(/^mount\(\) option fallback is .*; use 'snapshot', or leave it out for none$/);
    }
    expect(() => validateMountOptions({ fallback: 'snapshot' })).to.not.throw();
  });

  it('issue 11 item 6: valid and absent options pass', () => {
    for (const good of [undefined, {}, { deadlineMs: 1 }, { deadlineMs: 100, snapshotIntervalMs: 1000 }, { deadlineMs: 2.5 },
      { snapshotIntervalMs: MAX_TIMER_MS }, { allowOther: true }, { deadlineMs: undefined }]) {
      expect(() => validateMountOptions(good), JSON.stringify(good)).to.not.throw();
    }
    expect(refusal(5).message).to.include('must be an object');
  });

  it('issue 11 item 6: property: a value is accepted exactly when it is a number from 1 to 2^31-1', () => {
    const anything = fc.oneof(fc.double(), fc.integer(), fc.double({ min: 1, max: MAX_TIMER_MS }), fc.string(), fc.boolean(),
      fc.constant(null), fc.bigInt());
    fc.assert(fc.property(fc.constantFrom('deadlineMs', 'snapshotIntervalMs'), anything, (name, value) => {
      const valid = typeof value === 'number' && value >= 1 && value <= MAX_TIMER_MS;
      let accepted = true;
      try {
        validateMountOptions({ [name]: value });
      } catch (err) {
        accepted = false;
        expect((err as ProcstatError).code).to.equal('EINVAL');
        expect((err as Error).message).to.include(name);
      }
      expect(accepted, `${name}: ${String(value)}`).to.equal(valid);
    }), { numRuns: 500 });
  });
});
