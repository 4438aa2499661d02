import { execFileSync } from 'child_process';

/** A second user for specs that need one (made if missing; root only): its uid and gid. */
export function otherUser(name = 'procstat-tester'): { uid: number; gid: number } {
  try {
    execFileSync('id', [name], { stdio: 'ignore' });
  } catch {
    execFileSync('useradd', ['--no-create-home', '--shell', '/usr/sbin/nologin', '--user-group', name]);
  }
  return { uid: Number(execFileSync('id', ['-u', name]).toString()), gid: Number(execFileSync('id', ['-g', name]).toString()) };
}
