import { ResetInterval } from './reset-interval';

/**
 * Running statistics of a stream of numbers (the C library's u64 series): count, sum, min, max,
 * last, and mean and variance by Welford's method, in constant memory.
 */
export class Series {
  count = 0;
  sum = 0;
  min = 0;
  max = 0;
  last = 0;
  mean = 0;
  private m2 = 0;
  readonly resetInterval = new ResetInterval();

  addPoint(value: number): void {
    if (this.resetInterval.due()) this.reset();
    this.count++;
    this.sum += value;
    this.last = value;
    if (this.count === 1 || value < this.min) this.min = value;
    if (this.count === 1 || value > this.max) this.max = value;
    const delta = value - this.mean;
    this.mean += delta / this.count;
    this.m2 += delta * (value - this.mean);
  }

  /** sum / count, 0 when empty. */
  get avg(): number {
    return this.count === 0 ? 0 : this.sum / this.count;
  }

  /** Sample variance (divides by n − 1). */
  get variance(): number {
    return this.count < 2 ? 0 : this.m2 / (this.count - 1);
  }

  /** Sample standard deviation. */
  get stddev(): number {
    return Math.sqrt(this.variance);
  }

  reset(): void {
    this.count = this.sum = this.min = this.max = this.last = this.mean = this.m2 = 0;
    this.resetInterval.markReset();
  }

  /** Applies a due periodic reset before the statistics are read. */
  refresh(): void {
    if (this.resetInterval.due()) this.reset();
  }
}
