import { DirNode, FileNode, Node } from './nodes';
import { FileReader } from './read';

/**
 * The content of an aggregator file: one `relative/path:value` line per readable value below `dir`,
 * in tree order, leaving out aggregators (itself included) and write-only files. Values are read
 * through `reader` (the tree's one read path), so a getter that throws is reported once, like a
 * read of its own file, and left out, so one broken getter does not hide all the others.
 */
export function aggregate(dir: DirNode, reader: FileReader): string {
  const lines: string[] = [];
  const visit = (node: Node, prefix: string): void => {
    if (node instanceof DirNode) {
      for (const child of node.children()) visit(child, `${prefix}${child.name}${child instanceof DirNode ? '/' : ''}`);
      return;
    }
    const file = node as FileNode;
    if (!file.readable || file.behavior.aggregate) return;
    let text: string;
    try {
      text = reader.readFile(file);
    } catch {
      return;
    }
    lines.push(`${prefix}:${text.endsWith('\n') ? text.slice(0, -1) : text}\n`);
  };
  visit(dir, '');
  return lines.join('');
}

export function aggregatorFile(name: string, dir: DirNode, reader: FileReader): FileNode {
  return new FileNode(name, { read: () => aggregate(dir, reader), aggregate: true });
}
