import { ProcstatError } from './errors';
import { FileNode } from './nodes';
import { FileReader, ReadAs, readFile } from './read';

/** Where a context's problems go: its 'error' event, or a process warning when nothing listens. */
export type Report = (error: ProcstatError) => void;

/**
 * A context's one way in for its views (the mount, the snapshot writer, the Prometheus text, the
 * aggregators): reads and writes files, and reports each problem once: a failing getter once per
 * file, not once per read; any other problem once per key (a string naming it).
 */
export class Reader implements FileReader {
  private readonly reportedFiles = new WeakSet<FileNode>();
  private readonly reportedKeys = new Set<string>();

  constructor(private readonly report: Report) {}

  /**
   * A file's content for a view, or with `'value'` its raw value (the Prometheus view): every view
   * reads through here (read.ts). A getter that throws is EIO, reported once.
   */
  readFile(file: FileNode): string;
  readFile(file: FileNode, as: 'value'): unknown;
  readFile(file: FileNode, as: ReadAs = 'text'): unknown {
    return readFile(file, as, (failed, error) => this.reportOnce(failed, error));
  }

  /** Applies a write from a view; throws ProcstatError EINVAL (value unchanged) when it is refused. */
  writeFile(file: FileNode, text: string): void {
    file.behavior.write!(text);
  }

  reportOnce(key: FileNode | string, error: ProcstatError): void {
    const seen = typeof key === 'string' ? this.reportedKeys.has(key) : this.reportedFiles.has(key);
    if (seen) return;
    if (typeof key === 'string') this.reportedKeys.add(key);
    else this.reportedFiles.add(key);
    this.report(error);
  }
}
