#!/usr/bin/env node
// procstat: find, dump, watch and set the stats of the processes on this machine.
//   procstat ls                          the procstat mounts: pid, app, path
//   procstat dump [path]                 path:value lines (default: every mount)
//   procstat watch [path] [-n secs]      a table of values, redrawn, with per-second rates
//   procstat set <file> <value>          write a parameter
import { promises as fs, readFileSync } from 'fs';
import * as path from 'path';

const USAGE = `usage: procstat ls | dump [path] | watch [path] [-n secs] | set <file> <value>`;

interface MountInfo {
  pid: string;
  app: string;
  path: string;
}

/** procstat mounts from the mount table; `<app>.<pid>` names (the default paths) give app and pid. */
function mounts(): MountInfo[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').flatMap((line) => {
    const fields = line.split(' ');
    const dash = fields.indexOf('-');
    if (dash < 0 || fields[dash + 1] !== 'fuse.procstat') return [];
    const mountpoint = fields[4].replace(/\\(\d{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
    const match = path.basename(mountpoint).match(/^(.+)\.(\d+)$/);
    return [{ pid: match?.[2] ?? '-', app: match?.[1] ?? '-', path: mountpoint }];
  });
}

/** Every readable file below `root`, as [path, value] (write-only files and vanished ones left out). */
async function values(root: string): Promise<Array<[string, string]>> {
  const out: Array<[string, string]> = [];
  const visit = async (dir: string): Promise<void> => {
    const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        await visit(full);
        continue;
      }
      const text = await fs.readFile(full, 'utf8').catch(() => undefined);
      if (text !== undefined) out.push([full, text.replace(/\n$/, '')]);
    }
  };
  const stat = await fs.stat(root);
  if (stat.isDirectory()) await visit(root);
  else out.push([root, (await fs.readFile(root, 'utf8')).replace(/\n$/, '')]);
  return out;
}

function roots(arg: string | undefined): string[] {
  if (arg) return [path.resolve(arg)];
  const all = mounts().map((m) => m.path);
  if (all.length === 0) throw new Error('no procstat mounts on this machine (procstat ls)');
  return all;
}

async function ls(): Promise<void> {
  const rows = [['PID', 'APP', 'PATH'], ...mounts().map((m) => [m.pid, m.app, m.path])];
  const widths = [0, 1].map((i) => Math.max(...rows.map((r) => r[i].length)));
  for (const row of rows) console.log(`${row[0].padEnd(widths[0])}  ${row[1].padEnd(widths[1])}  ${row[2]}`);
}

async function dump(arg?: string): Promise<void> {
  for (const root of roots(arg)) for (const [file, value] of await values(root)) console.log(`${file}:${value}`);
}

/** Redraws a table every `seconds`; a numeric value that went up shows its rate per second. */
async function watch(arg: string | undefined, seconds: number, count: number): Promise<void> {
  let previous = new Map<string, { value: number; at: number }>();
  for (let round = 0; count === 0 || round < count; round++) {
    const at = Date.now();
    const rows: string[][] = [];
    const next = new Map<string, { value: number; at: number }>();
    for (const root of roots(arg)) {
      for (const [file, value] of await values(root)) {
        const name = path.relative(root, file) || path.basename(file);
        const number = Number(value);
        let rate = '';
        if (value !== '' && Number.isFinite(number)) {
          next.set(file, { value: number, at });
          const before = previous.get(file);
          if (before && number > before.value) rate = `${((number - before.value) / ((at - before.at) / 1000)).toFixed(1)}/s`;
        }
        rows.push([name, value.length > 40 ? `${value.slice(0, 39)}…` : value, rate]);
      }
    }
    previous = next;
    const widths = [0, 1].map((i) => Math.max(4, ...rows.map((r) => r[i].length)));
    const lines = [`procstat watch ${arg ?? '(all mounts)'} every ${seconds}s`, '',
      `${'FILE'.padEnd(widths[0])}  ${'VALUE'.padEnd(widths[1])}  RATE`,
      ...rows.map((r) => `${r[0].padEnd(widths[0])}  ${r[1].padEnd(widths[1])}  ${r[2]}`)];
    process.stdout.write(`${process.stdout.isTTY ? '\x1b[H\x1b[2J' : ''}${lines.join('\n')}\n`);
    if (count === 0 || round + 1 < count) await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  }
}

async function set(file: string | undefined, value: string | undefined): Promise<void> {
  if (!file || value === undefined) throw new Error(USAGE);
  try {
    await fs.writeFile(file, `${value}\n`);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'EINVAL' ? `invalid value ${JSON.stringify(value)} (EINVAL: it does not parse or is out of range)`
      : code === 'EACCES' ? 'read-only (EACCES)' : code === 'EAGAIN' ? 'the process is busy; try again (EAGAIN)' : (err as Error).message;
    throw new Error(`${file}: ${reason}`);
  }
}

async function main(argv: string[]): Promise<void> {
  const [command, ...args] = argv;
  const option = (name: string, fallback: number) => {
    const at = args.indexOf(name);
    if (at < 0) return fallback;
    const [value] = args.splice(at, 2).slice(1);
    return Number(value);
  };
  switch (command) {
    case 'ls': return ls();
    case 'dump': return dump(args[0]);
    case 'watch': {
      const seconds = option('-n', 2);
      const count = option('--count', 0);
      return watch(args[0], seconds, count);
    }
    case 'set': return set(args[0], args[1]);
    default: throw new Error(USAGE);
  }
}

main(process.argv.slice(2)).catch((err) => {
  console.error(`procstat: ${err.message}`);
  process.exit(1);
});
