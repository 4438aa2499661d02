// The example app as a smoke test: several classes with several instances, and a parameter write
// that visibly changes the service's behaviour.
import { expect } from 'chai';
import { spawn } from 'child_process';
import * as path from 'path';
import { leftoverMounts, tempPath } from './helpers/mounts';
import { shOk } from './helpers/shell';

const MAIN = path.join(__dirname, '..', 'example-app', 'main.js');

async function samples(file: string, count: number, everyMs: number): Promise<number[]> {
  const values: number[] = [];
  for (let i = 0; i < count; i++) {
    values.push(Number(await shOk(`cat ${file}`)));
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  return values;
}

describe('example app', () => {
  it('serves several classes with several instances; echo 8 > concurrency runs more jobs', async () => {
    const mnt = tempPath('example');
    const child = spawn(process.execPath, [MAIN, '--duration', '8'], { env: { ...process.env, PROCSTAT_MOUNT: mnt } });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    let out = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk) => { out += chunk; if (out.includes('Ctrl-C stops')) resolve(); });
      child.on('exit', () => reject(new Error(`example exited early: ${out}`)));
    });
    try {
      expect(out).to.include(`mounted at ${mnt}`);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect((await shOk(`ls ${mnt} | xargs`)).trim()).to.equal('cache http jobs process procstat');
      expect((await shOk(`ls ${mnt}/http ${mnt}/cache | xargs`)).trim()).to.equal(`${mnt}/cache: sessions users ${mnt}/http: admin api`);
      expect((await shOk(`ls ${mnt}/http/api/routes | xargs`)).trim()).to.include('GET__users__id').and.include('POST__jobs');
      expect(Number(await shOk(`cat ${mnt}/http/api/requests`))).to.be.above(50);
      const cli = path.join(__dirname, '..', 'src', 'cli.js');
      expect(await shOk(`${process.execPath} ${cli} ls`), 'procstat ls finds the running example').to.match(new RegExp(` ${mnt}$`, 'm'));
      expect(Number(await shOk(`cat ${mnt}/jobs/queued`)), 'jobs arrive faster than 2 workers finish them').to.be.above(0);
      expect(Math.max(...await samples(`${mnt}/jobs/running`, 5, 50))).to.equal(2);
      await shOk(`echo 8 > ${mnt}/jobs/concurrency`);
      expect(Math.max(...await samples(`${mnt}/jobs/running`, 5, 50))).to.be.above(4);
      expect((await shOk(`ls ${mnt}/jobs/workers | wc -l`)).trim()).to.equal('8');
      expect(await exited).to.equal(0);
      expect(out).to.include('stopped; mount removed');
      expect(leftoverMounts()).to.not.include(mnt);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
