import { DirNode, FileNode, Node } from './nodes';

/**
 * The content of an aggregator file: one `relative/path:value` line per readable value below `dir`,
 * in tree order, leaving out aggregators (itself included) and write-only files. A value whose
 * getter throws is left out too, so one broken getter does not hide all the others.
 */
export function aggregate(dir: DirNode): string {
  const lines: string[] = [];
  const visit = (node: Node, prefix: string): void => {
    if (node instanceof DirNode) {
      for (const child of node.children()) visit(child, `${prefix}${child.name}${child instanceof DirNode ? '/' : ''}`);
      return;
    }
    const file = node as FileNode;
    if (!file.behavior.read || file.behavior.aggregate) return;
    let text: string;
    try {
      text = file.behavior.read();
    } catch {
      return;
    }
    lines.push(`${prefix}:${text.endsWith('\n') ? text.slice(0, -1) : text}\n`);
  };
  visit(dir, '');
  return lines.join('');
}

export function aggregatorFile(name: string, dir: DirNode): FileNode {
  return new FileNode(name, { read: () => aggregate(dir), aggregate: true });
}
