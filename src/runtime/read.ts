import { types } from 'util';
import { ProcstatError } from './errors';
import { FileNode } from './nodes';

/**
 * The one way every view reads a file: the mount's read, the aggregator, the Prometheus view and
 * the snapshot writer all come through `readFile`, so they format alike and report alike.
 */

/** What a view wants: the file's text (value, format, newline) or, for the Prometheus view, the raw value. */
export type ReadAs = 'text' | 'value';

/** What views read through: a tree's `readFile`, bound to its error reporting. */
export interface FileReader {
  readFile(file: FileNode): string;
  readFile(file: FileNode, as: 'value'): unknown;
}

function messageOf(err: unknown): string {
  return (err as Error)?.message ?? String(err);
}

/** What a getter that returned a Promise throws on its way to readFile, which reports it and answers EIO. */
class PromiseValue extends Error {
  constructor() {
    super('it returned a Promise, which procstat does not await');
  }
}

/**
 * `value`, unless it is a Promise: values are read synchronously, so a Promise is refused, never
 * awaited or printed. Its rejection is handled here: procstat ran the getter that made it, and an
 * unhandled rejection would end the process.
 */
export function synchronous(value: unknown): unknown {
  if (!types.isPromise(value)) return value;
  value.catch(() => undefined);
  throw new PromiseValue();
}

function problemOf(path: string, err: unknown): string {
  if (err instanceof PromiseValue) {
    return `${path} returned a Promise; procstat reads values synchronously and does not await it: ` +
      'return the value itself (keep the result of the async work in a field)';
  }
  return `the getter of ${path} threw: ${messageOf(err)}`;
}

/**
 * Reads `file` as `as` asks. A ProcstatError (ENOENT for a released instance) passes through; any
 * other error is a getter that threw or returned a Promise: it is handed to `failed` (which reports
 * it, once per file) and thrown as EIO. A file without what was asked for (write-only; no raw value) is EACCES.
 */
export function readFile(file: FileNode, as: ReadAs, failed: (file: FileNode, error: ProcstatError) => void): unknown {
  const read = as === 'value' ? file.behavior.value : file.behavior.read;
  if (!read) throw new ProcstatError('EACCES', `${file.pathFrom(null)} has no ${as === 'value' ? 'value' : 'content'} to read`);
  try {
    return read();
  } catch (err) {
    if (err instanceof ProcstatError) throw err;
    const path = file.pathFrom(null);
    failed(file, new ProcstatError('EIO', `procstat: ${problemOf(path, err)}`, { cause: err }));
    throw new ProcstatError('EIO', `reading ${path} failed: ${messageOf(err)}`, { cause: err });
  }
}
