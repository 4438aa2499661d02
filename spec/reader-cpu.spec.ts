// The main thread moves to its reader's CPU at a turn's first open, within the application's own
// CPU affinity, and never keeps a narrowed affinity: JavaScript (a getter, a thread or process it
// starts) always runs with the affinity the application gave.
import { expect } from 'chai';
import { execFileSync } from 'child_process';
import { readFileSync } from 'fs';
import * as os from 'os';
import { Procstat } from '../src';
import { mountTemp, tempPath } from './helpers/mounts';
import { shOk } from './helpers/shell';

/** The CPUs the main thread may run on, as /proc prints them ("0-1"), read on the main thread. */
function mainThreadCpus(): string {
  return /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync(`/proc/self/task/${process.pid}/status`, 'utf8'))![1];
}

/** The CPU the calling thread runs on: field 39 of its /proc stat. */
function cpuNow(): string {
  const stat = readFileSync('/proc/thread-self/stat', 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[36];
}

/** What the getter saw (the main thread's CPU, then its affinity), read by a `cat` on one CPU; alternates CPUs 0 and 1. */
async function readsFromEachCpu(mnt: string, rounds: number): Promise<Array<{ reader: string; on: string; cpus: string }>> {
  const reads = [];
  for (let i = 0; i < rounds; i++) {
    const reader = String(i % 2);
    const [on, cpus] = (await shOk(`taskset -c ${reader} cat ${mnt}/where`)).trim().split(' ');
    reads.push({ reader, on, cpus });
  }
  return reads;
}

describe('the main thread moves to its reader\'s CPU', function () {
  if (os.cpus().length < 2) return;
  let mnt: string;
  let initial: string;

  beforeEach(async () => {
    initial = mainThreadCpus();
    const ctx = new Procstat();
    ctx.createValue(null, 'where', () => `${cpuNow()} ${mainThreadCpus()}`);
    mnt = await mountTemp(ctx);
  });

  afterEach(async () => {
    await shOk(`taskset -p -c ${initial} ${process.pid}`);
  });

  it('answers on the reader\'s CPU, with the application\'s affinity all along', async () => {
    const reads = await readsFromEachCpu(mnt, 12);
    const text = JSON.stringify(reads);
    // Left where it is, the thread would be on the reader's CPU for about half of them.
    expect(reads.filter((read) => read.on === read.reader).length, text).to.be.at.least(10);
    for (const read of reads) expect(read.cpus, text).to.equal(initial);
    expect(mainThreadCpus()).to.equal(initial);
  });

  it('stays within the affinity the application gave its main thread', async () => {
    await shOk(`taskset -p -c 0 ${process.pid}`);
    const reads = await readsFromEachCpu(mnt, 8);
    for (const read of reads) expect(read, JSON.stringify(reads)).to.deep.include({ on: '0', cpus: '0' });
    expect(mainThreadCpus()).to.equal('0');
  });

  it('keeps an affinity the application sets while it answers a reader', async () => {
    const app = new Procstat();
    for (const cpu of [0, 1]) {
      app.createValue(null, `to${cpu}`, () => {
        execFileSync('taskset', ['-p', '-c', String(cpu), String(process.pid)], { stdio: 'ignore' });
        return cpu;
      });
    }
    const dir = tempPath();
    await app.mount(dir, { deadlineMs: 10_000 });  // the getter runs taskset: slower than the default deadline under load
    try {
      for (let i = 0; i < 8; i++) {
        const reader = i % 2, set = 1 - reader;
        await shOk(`taskset -p -c ${initial} ${process.pid}`);
        await shOk(`taskset -c ${reader} cat ${dir}/to${set}`);
        expect(mainThreadCpus(), `read ${i}, reader on CPU ${reader}`).to.equal(String(set));
      }
    } finally {
      await app.unmount();
    }
  });
});
