import { ProcstatError } from './errors';
import { ResetInterval } from './reset-interval';

/** Relative accuracy of a reported percentile: ±0.5%, inside SPEC's 1%. */
const RELATIVE_ACCURACY = 0.005;
const GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY);
const LOG_GAMMA = Math.log(GAMMA);
/** Magnitudes below this count as zero; it also bounds the number of buckets from below. */
const SMALLEST = 1e-9;

/**
 * Percentiles of a stream of numbers in bounded memory (a DDSketch): each value falls into the
 * bucket ⌈log_γ |v|⌉, whose midpoint is within ±0.5% of every value in it. The number of buckets
 * depends only on the range of magnitudes seen (about 460 per factor of 10), never on the count.
 */
export class Histogram {
  count = 0;
  sum = 0;
  last = 0;
  readonly fractions: readonly number[];
  readonly resetInterval = new ResetInterval();
  private positive = new Map<number, number>();
  private negative = new Map<number, number>();
  private zeros = 0;

  constructor(fractions: readonly number[] = [0.5, 0.9, 0.99]) {
    for (const f of fractions) {
      if (!(typeof f === 'number' && f >= 0 && f <= 1)) {
        throw new ProcstatError('EINVAL', `Histogram fraction ${String(f)} is out of range; use numbers from 0 to 1, e.g. 0.99`);
      }
    }
    this.fractions = [...fractions];
  }

  addPoint(value: number): void {
    if (this.resetInterval.due()) this.reset();
    this.count++;
    this.sum += value;
    this.last = value;
    const magnitude = Math.abs(value);
    if (!(magnitude >= SMALLEST)) {
      this.zeros++;
      return;
    }
    const store = value > 0 ? this.positive : this.negative;
    const key = Math.ceil(Math.log(magnitude) / LOG_GAMMA);
    store.set(key, (store.get(key) ?? 0) + 1);
  }

  get avg(): number {
    return this.count === 0 ? 0 : this.sum / this.count;
  }

  /** The value at `fraction` (0…1) of the sorted points, within ±0.5%; 0 when empty. */
  percentile(fraction: number): number {
    this.refresh();
    if (this.count === 0) return 0;
    let rank = fraction * (this.count - 1);
    const negativeKeys = [...this.negative.keys()].sort((a, b) => b - a);
    for (const key of negativeKeys) {
      rank -= this.negative.get(key)!;
      if (rank < 0) return -bucketValue(key);
    }
    rank -= this.zeros;
    if (rank < 0) return 0;
    const positiveKeys = [...this.positive.keys()].sort((a, b) => a - b);
    for (const key of positiveKeys) {
      rank -= this.positive.get(key)!;
      if (rank < 0) return bucketValue(key);
    }
    return positiveKeys.length > 0 ? bucketValue(positiveKeys[positiveKeys.length - 1]) : 0; // rounding at rank = count - 1
  }

  reset(): void {
    this.count = this.sum = this.last = this.zeros = 0;
    this.positive.clear();
    this.negative.clear();
    this.resetInterval.markReset();
  }

  refresh(): void {
    if (this.resetInterval.due()) this.reset();
  }
}

function bucketValue(key: number): number {
  return (2 * Math.pow(GAMMA, key)) / (GAMMA + 1);
}

/** A percentile's file name: fraction × 100 with up to 4 significant digits (`50`, `99.99`). */
export function percentileName(fraction: number): string {
  return String(Number((fraction * 100).toPrecision(4)));
}
