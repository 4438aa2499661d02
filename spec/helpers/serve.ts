import { ChildProcess, spawn } from 'child_process';
import { promises as fs } from 'fs';
import * as path from 'path';
import { tempPath } from './mounts';

const SERVE = path.join(__dirname, '..', 'fixtures', 'serve.js');

export interface Served {
  child: ChildProcess;
  /** The first READY or ERROR line (or all output, if the process ends without one). */
  line: Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

/**
 * An environment in which the default mount path lands in a fresh temporary $XDG_RUNTIME_DIR
 * (and $PROCSTAT_MOUNT does not override it).
 */
export async function defaultPathEnv(): Promise<{ env: NodeJS.ProcessEnv; runtimeDir: string }> {
  const runtimeDir = tempPath('xdg');
  await fs.mkdir(runtimeDir);
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_RUNTIME_DIR: runtimeDir };
  delete env.PROCSTAT_MOUNT;
  return { env, runtimeDir };
}

/** Runs spec/fixtures/serve.ts in a child process: `serve(['stay', mountpoint])`. */
export function serve(args: string[], env: NodeJS.ProcessEnv = process.env): Served {
  const child = spawn(process.execPath, [SERVE, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const line = new Promise<string>((resolve) => {
    const take = (chunk: Buffer) => {
      out += chunk;
      const match = out.match(/^(READY|ERROR).*$/m);
      if (match) resolve(match[0]);
    };
    child.stdout!.on('data', take);
    child.stderr!.on('data', take);
    child.on('exit', () => resolve(out));
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, line, exited, output: () => out };
}
