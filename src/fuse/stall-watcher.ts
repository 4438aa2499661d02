// The stall watcher: a worker thread that takes the main thread's stack while its event loop is
// stalled, for procstat/stall/ (which the addon answers). The main thread posts it the id of each
// mount. While the loop is healthy it only asks the addon, ten times a second, how long the loop
// has not answered (and nothing while nothing is mounted): nothing runs on the main thread
// and no inspector session is open. Past the threshold it connects an inspector session to the
// main thread, pauses it (V8 takes the pause at its next interrupt check, within a millisecond in a
// JavaScript loop), copies the stack, resumes and disconnects. A thread asleep in the kernel (a
// synchronous read, Atomics.wait) is reported with what Linux shows for it instead.
import { readFileSync } from 'fs';
import { Session } from 'inspector';
import { parentPort } from 'worker_threads';
import { loadAddon } from './addon';

const POLL_MS = 100;
/**
 * How long a pause may take before the thread counts as blocked outside JavaScript: long, as the
 * session first lists every script and the machine may be busy; shorter for a thread the kernel
 * shows asleep in a system call (it pauses only if that call checks V8's interrupts: Atomics.wait).
 */
const PAUSE_WAIT_MS = 1000;
const PAUSE_WAIT_IN_SYSCALL_MS = 200;

interface Frame {
  functionName: string;
  location: { scriptId: string; lineNumber: number; columnNumber: number };
}

/** The common x86-64 system calls a blocked Node.js main thread sleeps in. */
const SYSCALLS: Record<string, string> = {
  0: 'read', 1: 'write', 7: 'poll', 9: 'mmap', 17: 'pread64', 23: 'select', 35: 'nanosleep', 61: 'wait4', 202: 'futex',
  232: 'epoll_wait', 230: 'clock_nanosleep', 257: 'openat', 270: 'pselect6', 271: 'ppoll', 281: 'epoll_pwait',
};

function frameLine(frame: Frame, urls: Map<string, string>): string {
  const file = (urls.get(frame.location.scriptId) || '<anonymous>').replace(/^file:\/\//, '');
  const where = `${file}:${frame.location.lineNumber + 1}:${frame.location.columnNumber + 1}`;
  return `    at ${frame.functionName || '<anonymous>'} (${where})`;
}

/** The main thread (its tid is the pid) as Linux shows it: the system call it sleeps in, if any. */
function kernelState(): { syscall: string; wchan: string } | undefined {
  try {
    const fields = readFileSync(`/proc/self/task/${process.pid}/syscall`, 'utf8').trim().split(' ');
    if (fields[0] === 'running' || fields[0] === '-1') return undefined;
    const wchan = readFileSync(`/proc/self/task/${process.pid}/wchan`, 'utf8').trim();
    return { syscall: `${SYSCALLS[fields[0]] ?? 'system call'} (${fields[0]})`, wchan: wchan || '0' };
  } catch {
    return undefined;
  }
}

/** The JavaScript stack of the main thread, or undefined if it does not pause within `waitMs`. */
function pauseMainThread(waitMs: number): Promise<string[] | undefined> {
  return new Promise((resolve) => {
    const session = new Session();
    let settled = false;
    const finish = (frames: string[] | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session.disconnect();
      resolve(frames);
    };
    const timer = setTimeout(() => finish(undefined), waitMs);
    // Debugger.enable reports every script first: the frames name their script by id only.
    const urls = new Map<string, string>();
    session.connectToMainThread();
    session.on('Debugger.scriptParsed', (message: { params: { scriptId: string; url: string } }) => {
      urls.set(message.params.scriptId, message.params.url);
    });
    session.on('Debugger.paused', (message: { params: { callFrames: Frame[] } }) => {
      if (settled) return;
      const frames = message.params.callFrames.map((frame) => frameLine(frame, urls));
      // Paused where no JavaScript runs (between tasks): no stack to show, so none is taken.
      session.post('Debugger.resume', () => finish(frames.length > 0 ? frames : undefined));
    });
    // Answers that come after the timeout find the session gone: nothing more is asked then.
    session.post('Debugger.enable', () => { if (!settled) session.post('Debugger.pause'); });
  });
}

async function takeStack(): Promise<string> {
  // Sampled before the pause: a paused thread sleeps in the kernel too.
  const kernel = kernelState();
  const waitMs = kernel ? PAUSE_WAIT_IN_SYSCALL_MS : PAUSE_WAIT_MS;
  const frames = await pauseMainThread(waitMs);
  const lines: string[] = [];
  if (kernel) {
    lines.push(`blocked outside JavaScript, in a system call: ${kernel.syscall}, wchan ${kernel.wchan}`);
    if (frames) lines.push('called from JavaScript:', ...frames);
  } else if (frames) {
    lines.push('in JavaScript:', ...frames);
  } else {
    lines.push(`blocked outside JavaScript (native code): the thread did not pause within ${waitMs} ms and sleeps in no system call`);
  }
  return `${lines.join('\n')}\n`;
}

const addon = loadAddon();
/** The mounts to watch; one that is gone (stallState gives null) is dropped. */
const mounts = new Set<number>();
let poll: NodeJS.Timeout | undefined;
let taking = false;

function check(): void {
  // One stall of the main thread is one stall of every mount it serves: one stack for all of them.
  const needing: Array<{ id: number; key: number }> = [];
  for (const id of mounts) {
    const state = addon.stallState(id);
    if (!state) mounts.delete(id);
    else if (state.needsStack) needing.push({ id, key: state.key });
  }
  if (needing.length > 0 && !taking) {
    taking = true;
    takeStack().then((text) => { for (const { id, key } of needing) addon.setStallStack(id, key, text); }).finally(() => { taking = false; });
  }
  if (mounts.size === 0) {
    clearInterval(poll);
    poll = undefined;
  }
}

// The port keeps this thread alive between mounts; the main thread has unref'd it.
parentPort!.on('message', (id: number) => {
  mounts.add(id);
  poll ??= setInterval(check, POLL_MS);
});
