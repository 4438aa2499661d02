// What an operator does from a shell: cat, grep -r, awk, echo > parameter, dd on an aggregator.
import { expect } from 'chai';
import { Procstat } from '../src';
import { mountTemp } from './helpers/mounts';
import { sh, shOk } from './helpers/shell';

describe('shell tools on a real mount', () => {
  let ctx: Procstat;
  let mnt: string;
  let concurrency: number;
  let requests: number;

  beforeEach(async () => {
    ctx = new Procstat();
    concurrency = 4;
    requests = 0;
    const http = ctx.createDirectory(null, 'http');
    ctx.createValue(http, 'requests', () => requests);
    ctx.createValue(http, 'bytes', () => 12345678901234567890n);
    ctx.createValue(http, 'up', () => true);
    ctx.createValue(http, 'started', () => new Date(Date.UTC(2026, 10, 25, 12, 0, 0)));
    ctx.createValue(http, 'version', () => 'v1.2.3');
    ctx.createParameter(null, 'concurrency', { get: () => concurrency, set: (v: number) => { concurrency = v; } });
    mnt = await mountTemp(ctx);
  });

  it('cat reads the live value every time (never cached)', async () => {
    expect(await shOk(`cat ${mnt}/http/requests`)).to.equal('0\n');
    requests = 18342;
    expect(await shOk(`cat ${mnt}/http/requests`)).to.equal('18342\n');
    requests = 7;
    expect(await shOk(`cat ${mnt}/http/requests`)).to.equal('7\n');
  });

  it('ls -f lists entries in the order they were created, in directories made before and after mount()', async () => {
    expect(await shOk(`ls -f ${mnt}/http | grep -v '^\\.'`)).to.equal('requests\nbytes\nup\nstarted\nversion\n');
    const later = ctx.createDirectory(null, 'later');
    for (const name of ['zeta', 'alpha', 'mid']) ctx.createValue(later, name, () => 1);
    expect(await shOk(`ls -f ${mnt}/later | grep -v '^\\.'`)).to.equal('zeta\nalpha\nmid\n');
  });

  it('formats numbers, bigint, boolean, Date and strings as SPEC §4 says', async () => {
    requests = 1e21;
    const out = await shOk(`cd ${mnt}/http && cat requests bytes up started version`);
    expect(out).to.equal('1000000000000000000000\n12345678901234567890\n1\n2026-11-25T12:00:00.000Z\nv1.2.3\n');
  });

  it('grep -r . prints path:value for every file', async () => {
    requests = 3;
    const out = await shOk(`cd ${mnt} && grep -r . | sort`);
    expect(out.replace(/answered \d+ ms ago/, 'answered N ms ago')).to.equal([
      'concurrency:4', 'http/bytes:12345678901234567890', 'http/requests:3',
      'http/started:2026-11-25T12:00:00.000Z', 'http/up:1', 'http/version:v1.2.3',
      'procstat/event_loop_blocked_ms:0', 'procstat/stale_reads:0', 'procstat/stall/count:0', 'procstat/stall/longest_ms:0',
      'procstat/stall/stack:not stalled: the event loop answered N ms ago (stalls past 1000 ms are recorded in recent/)', '',
    ].join('\n'));
  });

  it('awk sums values across files', async () => {
    const dir = ctx.createDirectory(null, 'workers');
    for (let i = 0; i < 5; i++) ctx.createValue(dir, `w${i}`, () => i * 10);
    expect(await shOk(`awk '{ s += $1 } END { print s }' ${mnt}/workers/*`)).to.equal('100\n');
  });

  it('echo 7 > param sets it (sh, O_TRUNC); echo abc is "Invalid argument" and changes nothing', async () => {
    await shOk(`sh -c 'echo 7 > ${mnt}/concurrency'`);
    expect(concurrency).to.equal(7);
    expect(await shOk(`cat ${mnt}/concurrency`)).to.equal('7\n');
    const bad = await sh(`echo abc > ${mnt}/concurrency`);
    expect(bad.code).to.not.equal(0);
    expect(bad.stderr).to.match(/write error: Invalid argument/);
    expect(concurrency).to.equal(7);
  });

  it('echo 1 > a read-only file is "Permission denied"', async () => {
    const result = await sh(`echo 1 > ${mnt}/http/requests`);
    expect(result.code).to.not.equal(0);
    expect(result.stderr).to.match(/Permission denied/);
  });

  it('mkdir and rm inside the mount are refused and change nothing', async () => {
    const mkdir = await sh(`mkdir ${mnt}/new`);
    expect(mkdir.stderr).to.match(/Operation not permitted/);
    const rm = await sh(`rm -f ${mnt}/concurrency`);
    expect(rm.stderr).to.match(/Operation not permitted/);
    expect((await shOk(`ls ${mnt}`)).split('\n').filter(Boolean)).to.deep.equal(['concurrency', 'http', 'procstat']);
  });

  it('an aggregator read with dd bs=7 gives every value line, whole', async () => {
    requests = 99;
    ctx.createAggregator(null, 'all');
    const whole = await shOk(`cat ${mnt}/all`);
    expect(whole).to.equal([
      'http/requests:99', 'http/bytes:12345678901234567890', 'http/up:1',
      'http/started:2026-11-25T12:00:00.000Z', 'http/version:v1.2.3', 'concurrency:4', '',
    ].join('\n'));
    expect(await shOk(`dd if=${mnt}/all bs=7 status=none`)).to.equal(whole);
  });

  it('an aggregator skips itself and write-only files', async () => {
    const dir = ctx.createDirectory(null, 'agg');
    ctx.createValue(dir, 'a', () => 1);
    ctx.createParameter(dir, 'control', { type: 'int', set: () => undefined });
    ctx.createAggregator(dir, 'all');
    expect(await shOk(`cat ${mnt}/agg/all`)).to.equal('a:1\n');
  });

  it('modes are 0444 / 0644 / 0200 / 0755 and the owner is the mounting user', async () => {
    ctx.createParameter(null, 'control', { type: 'int', set: () => undefined });
    const out = await shOk(`cd ${mnt} && stat -c '%n %a %u' http http/requests concurrency control`);
    const uid = process.getuid!();
    expect(out).to.equal(`http 755 ${uid}\nhttp/requests 444 ${uid}\nconcurrency 644 ${uid}\ncontrol 200 ${uid}\n`);
  });
});
