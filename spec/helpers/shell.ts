import { execFile } from 'child_process';

/**
 * The shell tools are not procstat's: under `npm run test:asan` they run without the ASan runtime
 * that is preloaded into node (some, such as dd and pgrep, fail or hang with it).
 */
const SHELL_ENV: NodeJS.ProcessEnv = { ...process.env };
if (SHELL_ENV.LD_PRELOAD?.includes('libasan')) delete SHELL_ENV.LD_PRELOAD;

export interface ShellResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a bash command line in a child process. Always asynchronous: the test process serves its own
 * mount on this event loop, so a synchronous read of it would deadlock.
 */
export function sh(command: string, cwd?: string): Promise<ShellResult> {
  return new Promise((resolve) => {
    execFile('bash', ['-c', command], { cwd, env: SHELL_ENV, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as any).code === 'number' ? (err as any).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Like sh, but fails the test with the command's stderr unless it exits 0. */
export async function shOk(command: string, cwd?: string): Promise<string> {
  const result = await sh(command, cwd);
  if (result.code !== 0) throw new Error(`\`${command}\` exited ${result.code}: ${result.stderr}`);
  return result.stdout;
}
