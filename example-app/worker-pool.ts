import { Counter, Gauge, Histogram, Parameter, Series, Stat, StatDir } from '../src';

/** One execution slot of the pool. */
@StatDir()
export class PoolWorker {
  @Counter() jobs = 0;
  @Stat() busy = false;
}

export type Job = () => Promise<void>;

/**
 * Runs queued jobs, at most `concurrency` at a time. `echo 8 > …/jobs/concurrency` really changes
 * how many run: `running` follows and the queue drains faster.
 */
@StatDir({ name: 'jobs', singleton: true })
export class WorkerPool {
  @Parameter({ min: 1, max: 64 }) concurrency = 2;
  @Parameter({ min: 0 }) maxQueue = 1000;
  @Gauge() get running() { return this.workers.filter((w) => w.busy).length; }
  @Gauge() get queued() { return this.queue.length; }
  @Counter() completed = 0;
  @Counter() rejected = 0;
  @Stat('run_time') runTime = new Series();
  @Stat('wait_time') waitTime = new Histogram([0.5, 0.9, 0.99]);
  @Stat() workers: PoolWorker[] = [];
  private readonly queue: Array<{ job: Job; queuedAt: number }> = [];

  submit(job: Job): boolean {
    if (this.queue.length >= this.maxQueue) {
      this.rejected++;
      return false;
    }
    this.queue.push({ job, queuedAt: Date.now() });
    this.pump();
    return true;
  }

  private pump(): void {
    while (this.running < this.concurrency && this.queue.length > 0) {
      const worker = this.idleWorker();
      const { job, queuedAt } = this.queue.shift()!;
      this.run(worker, job, queuedAt);
    }
  }

  private idleWorker(): PoolWorker {
    const idle = this.workers.find((w) => !w.busy);
    if (idle) return idle;
    const worker = new PoolWorker();
    this.workers.push(worker);
    return worker;
  }

  private async run(worker: PoolWorker, job: Job, queuedAt: number): Promise<void> {
    const started = Date.now();
    this.waitTime.addPoint(started - queuedAt);
    worker.busy = true;
    try {
      await job();
    } finally {
      worker.busy = false;
      worker.jobs++;
      this.completed++;
      this.runTime.addPoint(Date.now() - started);
      this.pump();
    }
  }
}
