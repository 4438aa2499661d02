// The procstat command: ls, dump, set, watch — plain, and through a real terminal (tmux).
import { expect } from 'chai';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { mountedWithLimit } from './helpers/mounts';
import { defaultPathEnv, serve } from './helpers/serve';
import { sh } from './helpers/shell';

const CLI = `${process.execPath} ${path.join(__dirname, '..', 'src', 'cli.js')}`;

describe('procstat command', () => {
  let requests: number;
  let ticker: NodeJS.Timeout;
  const t = mountedWithLimit((ctx) => {
    requests = 0;
    const dir = ctx.createDirectory(null, 'svc');
    ctx.createValue(dir, 'requests', () => requests);
    ctx.createValue(dir, 'name', () => 'web');
    ctx.createValue(dir, 'big', () => `x${'é'.repeat(1000)}`); // 2001 bytes
  }, 100);

  beforeEach(() => { ticker = setInterval(() => { requests += 10; }, 20); });

  afterEach(() => clearInterval(ticker));

  it('ls finds a running service at its default path', async () => {
    const { env } = await defaultPathEnv();
    const served = serve(['stay'], env);
    try {
      const mountpoint = (await served.line).replace('READY ', '');
      const out = (await sh(`${CLI} ls`)).stdout;
      expect(out.split('\n')[0]).to.match(/^PID\s+APP\s+PATH$/);
      expect(out).to.match(new RegExp(`^${served.child.pid}\\s+serve\\s+${mountpoint}$`, 'm'));
      expect(out).to.include(t.mnt);
    } finally {
      served.child.kill('SIGKILL');
      await served.exited;
    }
  });

  it('dump prints path:value lines, a value cut at 1024 bytes (on a character boundary) with …', async () => {
    const out = (await sh(`${CLI} dump ${t.mnt}/svc`)).stdout;
    expect(out).to.match(new RegExp(`^${t.mnt}/svc/requests:\\d+$`, 'm'));
    expect(out).to.include(`${t.mnt}/svc/name:web\n`);
    expect(out).to.include(`${t.mnt}/svc/big:x${'é'.repeat(511)}…\n`); // 1 + 511 × 2 bytes; half an é dropped
  });

  it('dump without a path reads the caller\'s own mounts only', async function () {
    this.timeout(120_000); // it reads every mount of this user, other test runs' included
    const mine = await sh(`${CLI} dump`);
    expect(mine.stdout).to.include(`${t.mnt}/svc/name:web\n`);
    expect(mine.stdout).to.include(`${t.mnt}/limit:5\n`);
    // As another user (nobody), the same mount is in the mount table (ls) but not theirs to dump.
    // The command, copied where nobody can read it (a clone may sit in a directory only root can enter).
    const copy = await fs.mkdtemp(path.join(os.tmpdir(), 'procstat-cli-'));
    await fs.copyFile(path.join(__dirname, '..', 'src', 'cli.js'), path.join(copy, 'cli.js'));
    await fs.chmod(copy, 0o755);
    const theirCli = `${process.execPath} ${path.join(copy, 'cli.js')}`;
    const asNobody = (command: string) => sh(`setpriv --reuid=65534 --regid=65534 --clear-groups ${command}`);
    expect((await asNobody(`${theirCli} ls`)).stdout).to.include(t.mnt);
    const theirs = await asNobody(`${theirCli} dump`);
    await fs.rm(copy, { recursive: true, force: true });
    expect(theirs.code).to.equal(1);
    expect(theirs.stdout).to.equal('');
    expect(theirs.stderr).to.equal('procstat: no procstat mounts of yours (uid 65534) on this machine; ' +
      'procstat ls lists every user\'s, give a path to read one\n');
  });

  it('ls -l and dump of a path that is not there both fail with exit code 1, saying so', async () => {
    for (const command of ['ls -l', 'dump']) {
      const run = await sh(`${CLI} ${command} ${t.mnt}/nope`);
      expect(run.code, command).to.equal(1);
      expect(run.stderr, command).to.equal(`procstat: ${t.mnt}/nope: no such file or directory\n`);
    }
  });

  it('set writes a parameter, and says plainly when the value is refused', async () => {
    expect((await sh(`${CLI} set ${t.mnt}/limit 42`)).code).to.equal(0);
    expect(t.limit).to.equal(42);
    const bad = await sh(`${CLI} set ${t.mnt}/limit 500`);
    expect(bad.code).to.equal(1);
    expect(bad.stderr).to.equal(`procstat: ${t.mnt}/limit: refused the value "500" (EINVAL: it does not parse, is out of range or fails validation)\n`);
    expect(t.limit).to.equal(42);
  });

  it('set says what is wrong with the file: missing, read-only, a directory, not in a mount', async () => {
    const outside = path.join(path.dirname(t.mnt), `plain-${process.pid}`);
    const cases: Array<[string, string]> = [
      [`${t.mnt}/svc/nope`, `${t.mnt}/svc/nope: no such file (ENOENT)`],
      [`${t.mnt}/svc/requests`, `${t.mnt}/svc/requests: read-only (EACCES): a value, not a parameter; nothing written`],
      [`${t.mnt}/svc`, `${t.mnt}/svc: is a directory, not a parameter file`],
      [outside, `${outside}: not in a procstat mount (procstat ls lists them); nothing written`],
    ];
    await sh(`echo 1 > ${outside}`);
    for (const [file, message] of cases) {
      const result = await sh(`${CLI} set ${file} 7`);
      expect(result.stderr, file).to.equal(`procstat: ${message}\n`);
      expect(result.code, file).to.equal(1);
    }
    expect((await sh(`cat ${outside}`)).stdout).to.equal('1\n');
  });

  it('refuses a bad command line with a clear message and exit code 2', async () => {
    const cases: Array<[string, string]> = [
      [`watch ${t.mnt} -n abc`, '-n abc: the interval must be a number of seconds greater than 0, e.g. -n 0.5'],
      [`watch ${t.mnt} -n 0`, '-n 0: the interval must be a number of seconds greater than 0, e.g. -n 0.5'],
      [`watch ${t.mnt} -n`, '-n needs a value'],
      [`watch ${t.mnt} --count 0`, '--count 0: the count must be a whole number of tables, 1 or more'],
      [`watch ${t.mnt} --count two`, '--count two: the count must be a whole number of tables, 1 or more'],
      [`watch ${t.mnt} --interval 1`, 'unknown option --interval for watch'],
      [`watch ${t.mnt} ${t.mnt}`, `watch takes one path, got ${t.mnt} and ${t.mnt}`],
      [`dump -a ${t.mnt}`, 'unknown option -a for dump'],
      [`dump ${t.mnt} ${t.mnt}`, 'dump takes at most 1 argument, got 2'],
      ['ls -a', 'unknown option -a for ls'],
      [`ls -l ${t.mnt} ${t.mnt}`, 'ls -l takes at most 1 argument, got 2'],
      [`dump --describe ${t.mnt} ${t.mnt}`, 'dump takes at most 1 argument, got 2'],
      [`set ${t.mnt}/limit`, 'set takes 2 arguments, got 1'],
      ['frob', 'unknown command frob'],
      ['', 'a command is needed'],
    ];
    for (const [args, message] of cases) {
      const result = await sh(`${CLI} ${args}`);
      expect(result.stderr, args).to.equal(`procstat: ${message}\nprocstat help shows the usage\n`);
      expect(result.stdout, args).to.equal('');
      expect(result.code, args).to.equal(2);
    }
  });

  it('help prints the usage with every option, on stdout', async () => {
    const help = await sh(`${CLI} help`);
    expect(help.code).to.equal(0);
    for (const line of ['procstat ls', 'procstat ls -l [path]', 'procstat dump [--describe] [path]', 'procstat watch [path] [-n secs] [--count N]',
      'procstat set <file> <value>', 'procstat help', 'a value over 1024 bytes is cut']) {
      expect(help.stdout).to.include(line);
    }
    for (const alias of ['-h', '--help']) expect((await sh(`${CLI} ${alias}`)).stdout).to.equal(help.stdout);
  });

  it('watch shows values with per-second rates (plain output)', async () => {
    const out = (await sh(`${CLI} watch ${t.mnt}/svc -n 0.5 --count 2`)).stdout;
    expect(out.match(/^procstat watch .* every 0.5s$/gm), '--count 2: two tables').to.have.length(2);
    const lastTable = out.slice(out.lastIndexOf('procstat watch'));
    expect(lastTable).to.match(/^FILE\s+VALUE\s+RATE$/m);
    const rate = Number(lastTable.match(/^requests\s+\d+\s+([\d.]+)\/s$/m)![1]);
    expect(rate).to.be.within(100, 1000); // 10 every 20 ms is 500/s
    expect(lastTable).to.match(/^name\s+web\s*$/m);
    expect(lastTable).to.match(new RegExp(`^big\\s+x${'é'.repeat(38)}…\\s*$`, 'm')); // 40 characters shown
  });

  it('watch redraws in a real terminal (tmux)', async function () {
    this.timeout(20_000);
    const session = `procstat-spec-${process.pid}`;
    await sh(`tmux new-session -d -s ${session} -x 120 -y 30 "${CLI} watch ${t.mnt}/svc -n 0.3"`);
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
