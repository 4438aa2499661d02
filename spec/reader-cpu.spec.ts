// The main thread follows its reader to the reader's CPU while it answers a turn of requests, within
// the application's own CPU affinity, and gives the affinity back when the turn ends.
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

/** What a getter saw, read by a `cat` that runs on one CPU; alternates CPUs 0 and 1. */
async function readsFromEachCpu(mnt: string, rounds: number): Promise<Array<{ cpu: number; seen: string }>> {
  const reads = [];
  for (let i = 0; i < rounds; i++) {
    const cpu = i % 2;
    reads.push({ cpu, seen: (await shOk(`taskset -c ${cpu} cat ${mnt}/cpus`)).trim() });
  }
  return reads;
}

describe('the main thread follows its reader to the reader\'s CPU', function () {
  if (os.cpus().length < 2) return;
  let ctx: Procstat;
  let mnt: string;
  let initial: string;

  beforeEach(async () => {
    initial = mainThreadCpus();
    ctx = new Procstat();
    ctx.createValue(null, 'cpus', mainThreadCpus);
    mnt = await mountTemp(ctx);
  });

  afterEach(async () => {
    await shOk(`taskset -p -c ${initial} ${process.pid}`);
  });

  it('answers on the reader\'s CPU alone, and has its own affinity back once the turn ends', async () => {
    const reads = await readsFromEachCpu(mnt, 12);
    // The thread is on one CPU at a time: readers on the other one make it move.
    const followed = reads.filter((read) => read.seen === String(read.cpu));
    expect(followed, JSON.stringify(reads)).to.not.be.empty;
    // Never narrowed to a CPU other than its reader's.
    for (const read of reads) expect([initial, String(read.cpu)], JSON.stringify(reads)).to.include(read.seen);
    expect(mainThreadCpus()).to.equal(initial);
  });

  it('stays within the affinity the application gave its main thread', async () => {
    await shOk(`taskset -p -c 0 ${process.pid}`);
    const reads = await readsFromEachCpu(mnt, 8);
    for (const read of reads) expect(read.seen, JSON.stringify(reads)).to.equal('0');
    expect(mainThreadCpus()).to.equal('0');
  });

  it('keeps an affinity the application sets while a turn answers its reader', async () => {
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
