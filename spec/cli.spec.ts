// The procstat command: ls, dump, set, watch — plain, and through a real terminal (tmux).
import { expect } from 'chai';
import * as path from 'path';
import { Procstat } from '../src';
import { mountTemp } from './helpers/mounts';
import { defaultPathEnv, serve } from './helpers/serve';
import { sh } from './helpers/shell';

const CLI = `${process.execPath} ${path.join(__dirname, '..', 'src', 'cli.js')}`;

describe('procstat command', () => {
  let ctx: Procstat;
  let mnt: string;
  let requests: number;
  let limit: number;
  let ticker: NodeJS.Timeout;

  beforeEach(async () => {
    ctx = new Procstat();
    requests = 0;
    limit = 5;
    const dir = ctx.createDirectory(null, 'svc');
    ctx.createValue(dir, 'requests', () => requests);
    ctx.createValue(dir, 'name', () => 'web');
    ctx.createParameter(null, 'limit', { get: () => limit, set: (v: number) => { limit = v; }, max: 100 });
    mnt = await mountTemp(ctx);
    ticker = setInterval(() => { requests += 10; }, 20);
  });

  afterEach(() => clearInterval(ticker));

  it('ls finds a running service at its default path', async () => {
    const { env } = await defaultPathEnv();
    const served = serve(['stay'], env);
    try {
      const mountpoint = (await served.line).replace('READY ', '');
      const out = (await sh(`${CLI} ls`)).stdout;
      expect(out.split('\n')[0]).to.match(/^PID\s+APP\s+PATH$/);
      expect(out).to.match(new RegExp(`^${served.child.pid}\\s+serve\\s+${mountpoint}$`, 'm'));
      expect(out).to.include(mnt);
    } finally {
      served.child.kill('SIGKILL');
      await served.exited;
    }
  });

  it('dump prints path:value lines', async () => {
    const out = (await sh(`${CLI} dump ${mnt}/svc`)).stdout;
    expect(out).to.match(new RegExp(`^${mnt}/svc/requests:\\d+$`, 'm'));
    expect(out).to.include(`${mnt}/svc/name:web\n`);
  });

  it('set writes a parameter, and says plainly when the value is refused', async () => {
    expect((await sh(`${CLI} set ${mnt}/limit 42`)).code).to.equal(0);
    expect(limit).to.equal(42);
    const bad = await sh(`${CLI} set ${mnt}/limit 500`);
    expect(bad.code).to.equal(1);
    expect(bad.stderr).to.equal(`procstat: ${mnt}/limit: invalid value "500" (EINVAL: it does not parse or is out of range)\n`);
    expect(limit).to.equal(42);
  });

  it('watch shows values with per-second rates (plain output)', async () => {
    const out = (await sh(`${CLI} watch ${mnt}/svc -n 0.5 --count 2`)).stdout;
    const lastTable = out.slice(out.lastIndexOf('procstat watch'));
    expect(lastTable).to.match(/^FILE\s+VALUE\s+RATE$/m);
    const rate = Number(lastTable.match(/^requests\s+\d+\s+([\d.]+)\/s$/m)![1]);
    expect(rate).to.be.within(100, 1000); // 10 every 20 ms is 500/s
    expect(lastTable).to.match(/^name\s+web\s*$/m);
  });

  it('watch redraws in a real terminal (tmux)', async function () {
    this.timeout(20_000);
    const session = `procstat-spec-${process.pid}`;
    await sh(`tmux new-session -d -s ${session} -x 120 -y 30 "${CLI} watch ${mnt}/svc -n 0.3"`);
    try {
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const screen = (await sh(`tmux capture-pane -p -t ${session}`)).stdout;
      expect(screen).to.match(/^procstat watch .* every 0.3s$/m);
      expect(screen).to.match(/^requests\s+\d+\s+[\d.]+\/s\s*$/m);
      expect(screen.match(/procstat watch/g), 'the screen is redrawn, not appended').to.have.length(1);
    } finally {
      await sh(`tmux kill-session -t ${session}`);
    }
  });
});
