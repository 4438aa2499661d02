import { Entry, Listing } from './protocol';

/** The worker's copy of one node: enough to answer lookup, getattr and readdir without the main thread. */
export interface MirrorNode {
  id: number;
  isDir: boolean;
  mode: number;
  /** null until the directory's listing has arrived. */
  children: Map<string, MirrorNode> | null;
  /** The last content read from the main thread: what a read past the deadline returns. */
  content: Buffer | null;
  /** Set when the node left the tree: open files of it answer ENOENT. */
  gone: boolean;
  /** Made by the worker itself (the procstat/ directory): listings from the main thread keep it. */
  local?: boolean;
  /** A local file's content. */
  read?: () => string;
}

export function mirrorNode(id: number, isDir: boolean, mode: number): MirrorNode {
  return { id, isDir, mode, children: null, content: null, gone: false };
}

function markGone(node: MirrorNode): void {
  node.gone = true;
  if (node.children) for (const child of node.children.values()) markGone(child);
}

/** The mirror of the tree: a root, updated by listings from the main thread. */
export class Mirror {
  readonly root = mirrorNode(0, true, 0o040755);

  /** Walks to `path`; stops early (returning the deepest node reached and the rest) at an unlisted directory. */
  walk(path: string): { node: MirrorNode | undefined; unlisted?: { dir: MirrorNode; path: string } } {
    let node = this.root;
    let walked = '';
    for (const part of path.split('/')) {
      if (part === '') continue;
      if (!node.isDir) return { node: undefined };
      if (node.children === null) return { node: undefined, unlisted: { dir: node, path: walked || '/' } };
      const next = node.children.get(part);
      if (!next) return { node: undefined };
      node = next;
      walked += `/${part}`;
    }
    return { node };
  }

  /** Applies a listing: kept children keep their own listings and last values; dropped ones are gone. */
  apply(listing: Listing): void {
    const { node } = this.walk(listing.path);
    if (!node || !node.isDir) return; // its parent changed meanwhile; a newer listing follows
    if (listing.path === '/') node.id = listing.id;
    if (node.id !== listing.id) return;
    const before = node.children ?? new Map<string, MirrorNode>();
    const after = new Map<string, MirrorNode>();
    for (const [name, id, isDir, mode] of listing.entries as Entry[]) {
      const kept = before.get(name);
      after.set(name, kept && kept.id === id ? kept : mirrorNode(id, isDir === 1, mode));
    }
    for (const [name, child] of before) {
      if (child.local) after.set(name, child);
      else if (after.get(name) !== child) markGone(child);
    }
    node.children = after;
  }
}
