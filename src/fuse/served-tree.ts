import { DirNode, FileNode } from '../runtime/nodes';

/**
 * All the FUSE side knows of the runtime: a root to walk, and how to read and write a file.
 * Keeping it this narrow lets the mount move to its own thread without touching the runtime.
 */
export interface ServedTree {
  readonly root: DirNode;
  /** A file's whole content; throws ProcstatError (EIO for a failing getter). */
  readFile(file: FileNode): string;
  /** Applies a write; throws ProcstatError EINVAL when refused. */
  writeFile(file: FileNode, text: string): void;
  /** Reads the fields that hold `@StatDir` objects again: a moved object is shown where it is now, never nowhere. */
  refreshOwnership(): void;
}
