import { lstatSync, promises as fs, rmdirSync, rmSync, Stats, unlinkSync } from 'fs';
import * as path from 'path';
import { ContextView } from '../runtime/context-view';
import { ProcstatError } from '../runtime/errors';
import { DirNode, FileNode, Node } from '../runtime/nodes';

function codeOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException)?.code;
}

/** A directory's identity, or undefined for anything else (a symbolic link included: lstat). */
function identity(stat: Stats | undefined): string | undefined {
  return stat?.isDirectory() ? `${stat.dev}:${stat.ino}` : undefined;
}

/** The identity of the directory at `dir` now, or undefined (gone, a link, a file, unreachable). */
function directoryAt(dir: string): string | undefined {
  try {
    return identity(lstatSync(dir));
  } catch {
    return undefined;
  }
}

/**
 * Life without FUSE: the tree written as ordinary files under a directory every `intervalMs`, so
 * `cat` and `grep -r` keep working with values at most one interval old. Each file is replaced by
 * an atomic rename, so a reader sees a whole old value or a whole new one. Parameters are written
 * like values (read-only: a write would not reach the process); write-only files are left out.
 *
 * The writer touches only what it made: it removes the files it wrote and the directories it
 * created (when they are empty), never a directory or file that was there before, and never
 * overwrites one. A path of the tree taken by such a file is left alone and reported once.
 * A getter that throws keeps its file's previous value.
 */
export class SnapshotWriter {
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private writing: Promise<void> = Promise.resolve();
  /** Files written by the last pass: the writer's own, to replace or remove. */
  private written = new Set<string>();
  /** Those the pass under way has written so far (an exit in the middle removes them too). */
  private writtenThisPass = new Set<string>();
  /** Directories below the mountpoint that this writer created. */
  private createdDirs = new Set<string>();
  /**
   * The directories it writes in (the mountpoint, those it made, those it found), as it first saw
   * them: a directory replaced since (by a link to another one, say, by a user who can write beside
   * it) is neither written in nor removed from, and nothing below it is.
   */
  private readonly dirIds = new Map<string, string>();
  private readonly removeAtExit = () => this.removeOwnSync();
  /** Numbers the files being written in `staging`. */
  private staged = 0;

  /**
   * `createdRoot`: the mountpoint and those of its ancestors that did not exist before, deepest first.
   * `staging`: where a file is written before it is renamed into place, outside the snapshot, so
   * that `find` or `grep -r` never meets a half-written file.
   */
  private constructor(private readonly view: ContextView, readonly mountpoint: string,
    private readonly intervalMs: number, private readonly createdRoot: string[], private readonly staging: string) {}

  static async start(view: ContextView, directory: string, intervalMs: number): Promise<SnapshotWriter> {
    const createdRoot: string[] = [];
    for (let dir = path.resolve(directory); ; dir = path.dirname(dir)) {
      const exists = await fs.lstat(dir).then(() => true, () => false);
      if (exists || dir === path.dirname(dir)) break;
      createdRoot.push(dir);
    }
    await fs.mkdir(directory, { recursive: true });
    const writer = new SnapshotWriter(view, directory, intervalMs, createdRoot, await SnapshotWriter.makeStaging(directory));
    for (const dir of [path.resolve(directory), ...createdRoot, writer.staging]) {
      const id = identity(await fs.lstat(dir).catch(() => undefined));
      if (id) writer.dirIds.set(dir, id);
    }
    process.on('exit', writer.removeAtExit);
    await writer.pass();
    writer.schedule();
    return writer;
  }

  /**
   * This process's own, made afresh (so only it writes and removes there): beside the snapshot,
   * `.<name>.staging.<pid>`, when that is the same filesystem (a rename is atomic only within one);
   * else, or where the parent is not writable, `.staging.<pid>` inside the snapshot, which `find`
   * and `grep -r` may then show.
   */
  private static async makeStaging(directory: string): Promise<string> {
    const resolved = path.resolve(directory);
    const inside = path.join(resolved, `.staging.${process.pid}`);
    const beside = path.join(path.dirname(resolved), `.${path.basename(resolved)}.staging.${process.pid}`);
    const sameFilesystem = (await fs.stat(resolved)).dev === (await fs.stat(path.dirname(resolved))).dev;
    for (const staging of sameFilesystem ? [beside, inside] : [inside]) {
      if (await fs.mkdir(staging, { mode: 0o700 }).then(() => true, () => false)) return staging;
    }
    throw new ProcstatError('EACCES', `procstat: no directory to write the snapshot's files in before they replace the old ones: ` +
      `${sameFilesystem ? `neither ${beside} nor ` : ''}${inside} could be made`);
  }

  /** The next pass starts an interval after the last one ended, so slow passes never pile up. */
  private schedule(): void {
    this.timer = setTimeout(() => {
      this.writing = this.pass()
        .catch((err) => this.view.reader.reportOnce(`snapshot\0${codeOf(err) ?? err}`,
          new ProcstatError('EIO', `procstat: writing the snapshot to ${this.mountpoint} failed: ${(err as Error)?.message ?? err}`, { cause: err })))
        .finally(() => { if (!this.stopped) this.schedule(); });
    }, this.intervalMs);
    this.timer.unref();
  }

  private clash(target: string, what: string): void {
    this.view.reader.reportOnce(`snapshot\0${target}`, new ProcstatError('EEXIST',
      `procstat: the snapshot leaves ${target} out: ${what} exists there that procstat did not write; ` +
      'it is neither overwritten nor removed (move it away, or snapshot to another directory)'));
  }

  /** Whether `dir` is still the directory first seen there, checked from the mountpoint down. */
  private intact(dir: string): boolean {
    const root = path.resolve(this.mountpoint);
    for (let d = path.resolve(dir); ; d = path.dirname(d)) {
      const id = directoryAt(d);
      if (id === undefined || id !== this.dirIds.get(d)) return false;
      if (d === root || path.dirname(d) === d) return d === root;
    }
  }

  private async pass(): Promise<void> {
    if (!this.intact(this.mountpoint)) {
      throw new ProcstatError('EIO', `${this.mountpoint} is no longer the directory the snapshot was started in; nothing more is written there`);
    }
    const files = new Set<string>();
    this.writtenThisPass = files;
    const dirs = new Set<string>();
    await this.write(this.view.root, this.mountpoint, files, dirs);
    for (const old of this.written) if (!files.has(old) && this.intact(path.dirname(old))) await fs.unlink(old).catch(() => undefined);
    this.written = files;
    for (const dir of [...this.createdDirs].sort((a, b) => b.length - a.length)) {
      if (dirs.has(dir)) continue;
      if (this.intact(dir)) await fs.rmdir(dir).catch(() => undefined); // not empty: it holds someone else's files, and stays
      this.createdDirs.delete(dir);
    }
  }

  private async write(node: Node, target: string, files: Set<string>, dirs: Set<string>): Promise<void> {
    if (node instanceof DirNode) {
      if (node !== this.view.root && !this.dirIds.has(target)) {
        const made = await fs.mkdir(target).then(() => true, (err) => {
          if (codeOf(err) !== 'EEXIST') throw err;
          return false;
        });
        const id = identity(await fs.lstat(target).catch(() => undefined));
        if (!id) return this.clash(target, 'a file');
        if (made) this.createdDirs.add(target);
        this.dirIds.set(target, id);
      }
      if (!this.intact(target)) return this.clash(target, 'another directory, or a link,');
      dirs.add(target);
      for (const child of node.children()) await this.write(child, path.join(target, child.name), files, dirs);
      return;
    }
    const file = node as FileNode;
    if (!file.readable) return;
    if (!this.written.has(target) && await fs.lstat(target).then(() => true, () => false)) return this.clash(target, 'an entry');
    let content: string;
    try {
      content = this.view.reader.readFile(file);
    } catch (err) {
      // A getter that threw (EIO, reported once by the read): the previous value stays.
      if (err instanceof ProcstatError && err.code === 'EIO' && this.written.has(target)) files.add(target);
      return;
    }
    if (directoryAt(this.staging) !== this.dirIds.get(this.staging)) {
      throw new ProcstatError('EIO', `${this.staging}, where the snapshot's files are written first, was replaced; nothing more is written`);
    }
    const temporary = path.join(this.staging, `${this.staged++}`);
    files.add(target); // before it exists: an exit during the rename removes it all the same
    await fs.writeFile(temporary, content, { mode: 0o444 });
    await fs.rename(temporary, target);
  }

  /** At exit, no event loop: the same clean-up, synchronously. */
  private removeOwnSync(): void {
    for (const file of [...this.written, ...this.writtenThisPass]) {
      if (this.intact(path.dirname(file))) try { unlinkSync(file); } catch { /* gone already */ }
    }
    const staging = directoryAt(this.staging);
    if (staging && staging === this.dirIds.get(this.staging)) try { rmSync(this.staging, { recursive: true, force: true }); } catch { /* not ours */ }
    for (const dir of [...this.createdDirs].sort((a, b) => b.length - a.length)) {
      if (this.intact(dir)) try { rmdirSync(dir); } catch { /* not empty: someone else's files are in it */ }
    }
    for (const dir of this.createdRoot) {
      const id = directoryAt(dir);
      if (id && id === this.dirIds.get(dir)) try { rmdirSync(dir); } catch { /* not empty */ }
    }
  }

  async unmount(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.writing;
    process.off('exit', this.removeAtExit);
    this.removeOwnSync();
  }
}
