/**
 * The periodic reset shared by series and histograms (`reset_interval_sec`). It is applied lazily,
 * when the statistics are touched, so an idle series costs no timer.
 */
export class ResetInterval {
  seconds = 0;
  private lastReset = Date.now();

  /** True when the interval has passed since the last reset; the caller then resets. */
  due(now = Date.now()): boolean {
    return this.seconds > 0 && now - this.lastReset >= this.seconds * 1000;
  }

  markReset(now = Date.now()): void {
    this.lastReset = now;
  }
}
