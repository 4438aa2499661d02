import { DirNode, Node } from './nodes';

/**
 * The one path walk over the tree: `outer-0/inner-3/value-6` below `from`, or undefined where a
 * part is missing or not a directory. Empty parts (`a//b`, a trailing `/`) are skipped, as a shell does.
 * The mount does not walk paths: the kernel asks it by inode, one name at a time.
 */
export function walk(from: DirNode, path: string): Node | undefined {
  let node: Node | undefined = from;
  for (const part of path.split('/')) {
    if (part === '') continue;
    node = node instanceof DirNode ? node.child(part) : undefined;
  }
  return node;
}
