import { promises as fs, rmSync } from 'fs';
import * as path from 'path';
import { DirNode, FileNode, Node } from '../runtime/nodes';
import { ServedTree } from '../fuse/served-tree';

/**
 * Life without FUSE: the tree written as ordinary files under a directory every `intervalMs`, so
 * `cat` and `grep -r` keep working with values at most one interval old. Each file is replaced by
 * an atomic rename, so a reader sees a whole old value or a whole new one. Parameters are written
 * like values (read-only: a write would not reach the process); write-only files are left out.
 */
export class SnapshotWriter {
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> = Promise.resolve();
  /** Paths written by the last pass, to remove what left the tree. */
  private written = new Set<string>();
  private readonly removeAtExit = () => rmSync(this.directory, { recursive: true, force: true });

  private constructor(private readonly tree: ServedTree, readonly directory: string) {}

  static async start(tree: ServedTree, directory: string, intervalMs: number): Promise<SnapshotWriter> {
    await fs.mkdir(directory, { recursive: true });
    const writer = new SnapshotWriter(tree, directory);
    await writer.pass();
    writer.timer = setInterval(() => { writer.writing = writer.writing.then(() => writer.pass()); }, intervalMs);
    writer.timer.unref();
    process.on('exit', writer.removeAtExit);
    return writer;
  }

  get mountpoint(): string {
    return this.directory;
  }

  private async pass(): Promise<void> {
    const now = new Set<string>();
    await this.write(this.tree.root, this.directory, now);
    for (const old of this.written) if (!now.has(old)) await fs.rm(old, { recursive: true, force: true });
    this.written = now;
  }

  private async write(node: Node, target: string, seen: Set<string>): Promise<void> {
    if (node instanceof DirNode) {
      if (node !== this.tree.root) {
        await fs.mkdir(target, { recursive: true });
        seen.add(target);
      }
      for (const child of node.children()) await this.write(child, path.join(target, child.name), seen);
      return;
    }
    const file = node as FileNode;
    if (!file.readable) return;
    let content: string;
    try {
      content = this.tree.readFile(file);
    } catch {
      return; // a throwing getter: the previous value stays
    }
    const temporary = `${target}.${process.pid}.tmp`;
    await fs.writeFile(temporary, content, { mode: 0o444 });
    await fs.rename(temporary, target);
    seen.add(target);
  }

  async unmount(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.writing;
    process.off('exit', this.removeAtExit);
    await fs.rm(this.directory, { recursive: true, force: true });
  }
}
