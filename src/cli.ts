#!/usr/bin/env node
// procstat: find, dump, watch and set the stats of the processes on this machine (see USAGE).
import { promises as fs, readFileSync } from 'fs';
import * as path from 'path';
import { StringDecoder } from 'string_decoder';
import type { Addon } from './fuse/addon';

/** dump prints at most this many bytes of a value (and reads no more than one byte past it). */
const VALUE_CAP = 1024;
/** watch shows at most this many characters of a value in its table. */
const WATCH_WIDTH = 40;

const USAGE = `usage: procstat ls                    the procstat mounts on this machine: pid, app, path
       procstat ls -l [path]          every file below path (default: every procstat mount you own) with
                                      its kind (counter, gauge, parameter, stat), unit and help
       procstat dump [--describe] [path]
                                      path:value lines of every file below path (default: every procstat
                                      mount you own); a value over ${VALUE_CAP} bytes is cut there and ends with …;
                                      --describe adds each file's kind, unit and help after a #
       procstat watch [path] [-n secs] [--count N]
                                      a table of the values below path (default: every procstat mount you
                                      own), redrawn every secs seconds (default 2), with per-second rates;
                                      stops after N tables (default: at Ctrl-C)
       procstat set <file> <value>    writes value to a parameter file
       procstat help                  this text (also -h, --help)`;

/** A mistake in the command line: exit code 2, with a pointer to the usage. */
class UsageError extends Error {}

interface MountInfo {
  pid: string;
  app: string;
  path: string;
  /** The mounting user (FUSE's `user_id=` mount option). */
  uid: number | undefined;
}

/** procstat mounts from the mount table; `<app>.<pid>` names (the default paths) give app and pid. */
function mounts(): MountInfo[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').flatMap((line) => {
    const fields = line.split(' ');
    const dash = fields.indexOf('-');
    if (dash < 0 || fields[dash + 1] !== 'fuse.procstat') return [];
    const mountpoint = fields[4].replace(/\\(\d{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
    const match = path.basename(mountpoint).match(/^(.+)\.(\d+)$/);
    const uid = (fields[dash + 3] ?? '').match(/(?:^|,)user_id=(\d+)(?:,|$)/)?.[1];
    return [{ pid: match?.[2] ?? '-', app: match?.[1] ?? '-', path: mountpoint, uid: uid === undefined ? undefined : Number(uid) }];
  });
}

/** A file's value without its trailing newline, cut to `cap` bytes (on a character boundary) with `…`. */
async function readValue(file: string, cap: number): Promise<string> {
  const handle = await fs.open(file, 'r');
  try {
    const buffer = Buffer.alloc(cap + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0 || (length += bytesRead) === buffer.length) break;
    }
    if (length > cap) return `${new StringDecoder('utf8').write(buffer.subarray(0, cap))}…`;
    return buffer.toString('utf8', 0, length).replace(/\n$/, '');
  } finally {
    await handle.close();
  }
}

/** Every file below `root` (or `root` itself, a file), in listing order. */
async function filesBelow(root: string): Promise<string[]> {
  const out: string[] = [];
  const visit = async (dir: string): Promise<void> => {
    const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) await visit(full);
      else out.push(full);
    }
  };
  const stat = await fs.stat(root).catch((err: NodeJS.ErrnoException) => {
    throw new Error(err.code === 'ENOENT' ? `${root}: no such file or directory` : `${root}: ${err.message}`);
  });
  if (stat.isDirectory()) await visit(root);
  else out.push(root);
  return out;
}

/** Every readable file below `root`, as [path, value] (write-only files and vanished ones left out). */
async function values(root: string, cap: number): Promise<Array<[string, string]>> {
  const out: Array<[string, string]> = [];
  const files = await filesBelow(root);
  if (files.length === 1 && files[0] === root) return [[root, await readValue(root, cap)]];
  for (const file of files) {
    const text = await readValue(file, cap).catch(() => undefined);
    if (text !== undefined) out.push([file, text]);
  }
  return out;
}

/** A file's user.procstat.kind, .help and .unit. */
type Description = { kind?: string; help?: string; unit?: string };

/**
 * A file's user.procstat.* attributes, read through procstat's addon (Node has no getxattr). Loaded
 * only here: every other command works from this file alone, without the package around it.
 */
function describe(file: string): Description {
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const addon: Addon = require('./fuse/addon').loadAddon();
    return addon.descriptionOf(file);
  } catch {
    return {}; // no addon here: files are shown without their description
  }
}

/** The directories to walk: the given path, else every procstat mount of this user. */
function roots(arg: string | undefined): string[] {
  if (arg) return [path.resolve(arg)];
  const uid = process.getuid!();
  const own = mounts().filter((m) => m.uid === uid).map((m) => m.path);
  if (own.length === 0) {
    throw new Error(`no procstat mounts of yours (uid ${uid}) on this machine; procstat ls lists every user's, give a path to read one`);
  }
  return own;
}

/**
 * The directories to read: the given path, else every procstat mount of this user. A mount that
 * cannot be read (gone since the mount table was read, stale) is reported and skipped.
 */
type Values = { root: string; values: Array<[string, string]> };

async function valuesOf(arg: string | undefined, cap: number): Promise<Values[]> {
  if (arg) return [{ root: path.resolve(arg), values: await values(path.resolve(arg), cap) }];
  const out: Values[] = [];
  for (const root of roots(arg)) {
    try {
      out.push({ root, values: await values(root, cap) });
    } catch (err) {
      console.error(`procstat: skipped ${(err as Error).message}`);
    }
  }
  return out;
}

/** Rows as lines of columns, each padded to its widest cell (the last one is not padded). */
function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return rows.map((row) => row.map((cell, i) => (i < row.length - 1 ? cell.padEnd(widths[i]) : cell)).join('  ').trimEnd());
}

function ls(): void {
  for (const line of table([['PID', 'APP', 'PATH'], ...mounts().map((m) => [m.pid, m.app, m.path])])) console.log(line);
}

/** `kind unit: help`, the parts a file has. */
function describedAs({ kind, help, unit }: Description): string {
  return `${[kind, unit].filter(Boolean).join(' ')}${help ? `: ${help}` : ''}`;
}

/** `procstat ls -l`: a line per file, KIND UNIT PATH HELP. */
async function listFiles(arg: string | undefined): Promise<void> {
  const rows: string[][] = [['KIND', 'UNIT', 'PATH', 'HELP']];
  for (const root of roots(arg)) {
    // As dump: a path given that cannot be read is an error; one of several mounts is skipped.
    for (const file of await filesBelow(root).catch((err) => { if (arg) throw err; console.error(`procstat: skipped ${err.message}`); return []; })) {
      const { kind, unit, help } = describe(file);
      rows.push([kind ?? '-', unit ?? '-', file, help ?? '']);
    }
  }
  for (const line of table(rows)) console.log(line);
}

async function dump(arg: string | undefined, described: boolean): Promise<void> {
  for (const { values: list } of await valuesOf(arg, VALUE_CAP)) {
    for (const [file, value] of list) {
      const description = described ? describedAs(describe(file)) : '';
      console.log(`${file}:${value}${description ? `  # ${description}` : ''}`);
    }
  }
}

/** Redraws a table every `seconds`; a numeric value that went up shows its rate per second. */
async function watch(arg: string | undefined, seconds: number, count: number | undefined): Promise<void> {
  let previous = new Map<string, { value: number; at: number }>();
  for (let round = 0; count === undefined || round < count; round++) {
    const at = Date.now();
    const rows: string[][] = [['FILE', 'VALUE', 'RATE']];
    const next = new Map<string, { value: number; at: number }>();
    for (const { root, values: list } of await valuesOf(arg, VALUE_CAP)) {
      for (const [file, value] of list) {
        const name = path.relative(root, file) || path.basename(file);
        const number = Number(value);
        let rate = '';
        if (value !== '' && Number.isFinite(number)) {
          next.set(file, { value: number, at });
          const before = previous.get(file);
          if (before && number > before.value) rate = `${((number - before.value) / ((at - before.at) / 1000)).toFixed(1)}/s`;
        }
        rows.push([name, value.length > WATCH_WIDTH ? `${value.slice(0, WATCH_WIDTH - 1)}…` : value, rate]);
      }
    }
    previous = next;
    const lines = [`procstat watch ${arg ?? '(your mounts)'} every ${seconds}s`, '', ...table(rows)];
    process.stdout.write(`${process.stdout.isTTY ? '\x1b[H\x1b[2J' : ''}${lines.join('\n')}\n`);
    if (count === undefined || round + 1 < count) await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  }
}

async function set(file: string, value: string): Promise<void> {
  const stat = await fs.stat(file).catch((err: NodeJS.ErrnoException) => {
    throw new Error(`${file}: ${err.code === 'ENOENT' ? 'no such file (ENOENT)' : err.message}`);
  });
  if (stat.isDirectory()) throw new Error(`${file}: is a directory, not a parameter file`);
  const real = await fs.realpath(file);
  if (!mounts().some((m) => real.startsWith(`${m.path}/`))) throw new Error(`${file}: not in a procstat mount (procstat ls lists them); nothing written`);
  if ((stat.mode & 0o222) === 0) throw new Error(`${file}: read-only (EACCES): a value, not a parameter; nothing written`);
  try {
    await fs.writeFile(file, `${value}\n`);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'EINVAL' ? `refused the value ${JSON.stringify(value)} (EINVAL: it does not parse, is out of range or fails validation)`
      : code === 'EACCES' ? 'read-only (EACCES): a value, not a parameter; nothing written'
        : code === 'EAGAIN' ? 'the process is busy; try again (EAGAIN)' : (err as Error).message;
    throw new Error(`${file}: ${reason}`);
  }
}

/** Splits watch's arguments into its path and checked options. */
function watchArgs(args: string[]): { path?: string; seconds: number; count?: number } {
  const parsed: { path?: string; seconds: number; count?: number } = { seconds: 2 };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '-n' || arg === '--count') {
      const value = args[++i];
      if (value === undefined) throw new UsageError(`${arg} needs a value`);
      if (arg === '-n') {
        if (!/^(\d+\.?\d*|\.\d+)$/.test(value) || Number(value) <= 0) {
          throw new UsageError(`-n ${value}: the interval must be a number of seconds greater than 0, e.g. -n 0.5`);
        }
        parsed.seconds = Number(value);
      } else {
        if (!/^\d+$/.test(value) || Number(value) < 1) throw new UsageError(`--count ${value}: the count must be a whole number of tables, 1 or more`);
        parsed.count = Number(value);
      }
    } else if (arg.startsWith('-')) {
      throw new UsageError(`unknown option ${arg} for watch`);
    } else if (parsed.path === undefined) {
      parsed.path = arg;
    } else {
      throw new UsageError(`watch takes one path, got ${parsed.path} and ${arg}`);
    }
  }
  return parsed;
}

/** Checks that `command` got between `min` and `max` arguments and no options. */
function positional(command: string, args: string[], min: number, max: number): string[] {
  const option = args.find((arg) => arg.startsWith('-') && arg.length > 1);
  if (option && command !== 'set') throw new UsageError(`unknown option ${option} for ${command}`);
  if (args.length < min || args.length > max) {
    const wanted = min === max ? `${min}` : min === 0 ? `at most ${max}` : `${min} to ${max}`;
    throw new UsageError(`${command} takes ${wanted} argument${max === 1 ? '' : 's'}, got ${args.length}`);
  }
  return args;
}

async function main(argv: string[]): Promise<void> {
  const [command, ...args] = argv;
  switch (command) {
    case 'ls':
      if (args[0] === '-l') return listFiles(positional('ls -l', args.slice(1), 0, 1)[0]);
      positional(command, args, 0, 0);
      return ls();
    case 'dump': {
      const described = args[0] === '--describe';
      return dump(positional(command, described ? args.slice(1) : args, 0, 1)[0], described);
    }
    case 'watch': {
      const { path: root, seconds, count } = watchArgs(args);
      return watch(root, seconds, count);
    }
    case 'set': {
      const [file, value] = positional(command, args, 2, 2);
      return set(file, value);
    }
    case 'help': case '-h': case '--help':
      return console.log(USAGE);
    case undefined:
      throw new UsageError('a command is needed');
    default:
      throw new UsageError(`unknown command ${command}`);
  }
}

main(process.argv.slice(2)).catch((err) => {
  console.error(`procstat: ${err.message}`);
  if (err instanceof UsageError) console.error('procstat help shows the usage');
  process.exit(err instanceof UsageError ? 2 : 1);
});
