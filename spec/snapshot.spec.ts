// Without FUSE: the snapshot fallback writes the same paths and values as ordinary files.
import { expect } from 'chai';
import { tempPath } from './helpers/mounts';
import { serve } from './helpers/serve';
import { sh, shOk } from './helpers/shell';

describe('snapshot fallback (no FUSE)', () => {
  it('serves the same paths and values as the mount, refreshed every interval', async function () {
    this.timeout(20_000);
    const fuse = tempPath('fuse');
    const snapshot = tempPath('snapshot');
    const mounted = serve(['snapshot', fuse]);
    // Without fusermount on $PATH, FUSE cannot be used: the same program falls back.
    const fallback = serve(['snapshot', snapshot], { ...process.env, PATH: '/nonexistent' });
    try {
      expect(await mounted.line).to.equal(`READY ${fuse}`);
      expect(await fallback.line).to.equal(`READY ${snapshot}`);
      expect(fallback.output()).to.match(/fusermount3 was not found.*Writing snapshots of the stats to .* every 100 ms instead/s);
      expect(await shOk(`findmnt -n ${snapshot} || echo none`)).to.equal('none\n');

      const listing = (root: string) => shOk(`cd ${root} && find . -type f ! -path './procstat/*' ! -name control ! -name reset ! -name reset_interval_sec | sort`);
      const expected = await listing(fuse);
      // Files are written elsewhere and renamed into place: a walk never meets a half-written file.
      for (let i = 0; i < 20; i++) expect(await listing(snapshot)).to.equal(expected);
      const stable = (root: string) => shOk(`cd ${root} && grep -r . svc/name svc/limit svc/latency | sort`);
      expect(await stable(snapshot)).to.equal(await stable(fuse));
      expect(await stable(snapshot)).to.include('svc/latency/count:1\n').and.include('svc/limit:5\n');

      const first = Number(await shOk(`cat ${snapshot}/svc/ticks`));
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(Number(await shOk(`cat ${snapshot}/svc/ticks`)), 'values are refreshed').to.be.above(first);
      // Files are 0444; root may write them anyway, but a write never reaches the process.
      expect(await shOk(`stat -c %a ${snapshot}/svc/limit`)).to.equal('444\n');
      await sh(`echo 7 > ${snapshot}/svc/limit`);
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(await shOk(`cat ${snapshot}/svc/limit`)).to.equal('5\n');
    } finally {
      mounted.child.kill('SIGTERM');
      fallback.child.kill('SIGTERM');
      await Promise.all([mounted.exited, fallback.exited]);
    }
  });
});
