import { ProcstatError } from '../runtime/errors';
import { DirNode, FileNode, Node } from '../runtime/nodes';
import { ServedTree } from './served-tree';

// errno values as fuse-native wants them (negative).
const EPERM = -1, ENOENT = -2, EIO = -5, EBADF = -9, EACCES = -13, ENOTDIR = -20, EISDIR = -21, EINVAL = -22;
const ERRNO: Record<string, number> = { EPERM, ENOENT, EIO, EACCES, EINVAL, EEXIST: -17, EAGAIN: -11 };
const O_ACCMODE = 3, O_WRONLY = 1, O_RDWR = 2;
const S_IFDIR = 0o040000, S_IFREG = 0o100000;

type Cb = (errno: number, ...results: any[]) => void;

/** One open file: the content is fixed at open (one consistent value per open), writes accumulate. */
interface OpenFile {
  node: FileNode;
  content: Buffer | null;
  written: Buffer;
}

function errnoOf(err: unknown): number {
  return err instanceof ProcstatError ? ERRNO[err.code] ?? EIO : EIO;
}

function resolve(root: DirNode, path: string): Node | undefined {
  let node: Node | undefined = root;
  for (const part of path.split('/')) {
    if (part === '') continue;
    node = node instanceof DirNode ? node.child(part) : undefined;
    if (!node) return undefined;
  }
  return node;
}

/**
 * The fuse-native operations that map kernel calls onto the tree. Everything that would change the
 * tree's shape (mkdir, rm, mv, touch, chmod, ln) is EPERM: the tree belongs to the program.
 */
export function operations(tree: ServedTree): Record<string, (...args: any[]) => void> {
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  const mountTime = Date.now();
  const open = new Map<number, OpenFile>();
  let nextFd = 1;

  const statOf = (node: Node) => node instanceof DirNode
    ? { mode: S_IFDIR | 0o755, nlink: 2, size: 0, uid, gid, ino: node.id, mtime: mountTime, atime: mountTime, ctime: mountTime }
    : { mode: S_IFREG | (node as FileNode).permissions, nlink: 1, size: 0, uid, gid, ino: node.id, mtime: mountTime, atime: mountTime, ctime: mountTime };

  const fileAt = (path: string, cb: Cb, then: (file: FileNode) => void) => {
    const node = resolve(tree.root, path);
    if (!node) return cb(ENOENT);
    if (node instanceof DirNode) return cb(EISDIR);
    then(node as FileNode);
  };

  const refuse = (...args: any[]) => (args[args.length - 1] as Cb)(EPERM);

  return {
    getattr(path: string, cb: Cb) {
      const node = resolve(tree.root, path);
      return node ? cb(0, statOf(node)) : cb(ENOENT);
    },
    readdir(path: string, cb: Cb) {
      const node = resolve(tree.root, path);
      if (!node) return cb(ENOENT);
      if (!(node instanceof DirNode)) return cb(ENOTDIR);
      return cb(0, node.names());
    },
    open(path: string, flags: number, cb: Cb) {
      fileAt(path, cb, (node) => {
        const mode = flags & O_ACCMODE;
        const wantsRead = mode !== O_WRONLY, wantsWrite = mode === O_WRONLY || mode === O_RDWR;
        if ((wantsRead && !node.readable) || (wantsWrite && !node.writable)) return cb(EACCES);
        let content: Buffer | null = null;
        if (wantsRead) {
          try {
            content = Buffer.from(tree.readFile(node));
          } catch (err) {
            return cb(errnoOf(err));
          }
        }
        const fd = nextFd++;
        open.set(fd, { node, content, written: Buffer.alloc(0) });
        return cb(0, fd);
      });
    },
    read(path: string, fd: number, buf: Buffer, len: number, pos: number, cb: Cb) {
      const file = open.get(fd);
      if (!file || !file.content) return cb(EBADF);
      if (file.node.removed) return cb(ENOENT);
      if (pos >= file.content.length) return cb(0);
      return cb(file.content.copy(buf, 0, pos, Math.min(pos + len, file.content.length)));
    },
    write(path: string, fd: number, buf: Buffer, len: number, pos: number, cb: Cb) {
      const file = open.get(fd);
      if (!file) return cb(EBADF);
      if (file.node.removed) return cb(ENOENT);
      // A value arrives whole or in consecutive pieces; a write elsewhere cannot make a value.
      if (pos !== file.written.length) return cb(EINVAL);
      const written = Buffer.concat([file.written, buf.subarray(0, len)]);
      try {
        tree.writeFile(file.node, written.toString('utf8'));
      } catch (err) {
        return cb(errnoOf(err));
      }
      file.written = written;
      return cb(len);
    },
    release(path: string, fd: number, cb: Cb) {
      open.delete(fd);
      return cb(0);
    },
    // `echo 5 > file` truncates before it writes; a parameter has nothing to truncate.
    truncate(path: string, size: number, cb: Cb) {
      fileAt(path, cb, (node) => cb(node.writable ? 0 : EACCES));
    },
    ftruncate(path: string, fd: number, size: number, cb: Cb) {
      const file = open.get(fd);
      return cb(!file ? EBADF : file.node.writable ? 0 : EACCES);
    },
    create: refuse, mkdir: refuse, rmdir: refuse, unlink: refuse, rename: refuse, link: refuse,
    symlink: refuse, mknod: refuse, chmod: refuse, chown: refuse, utimens: refuse,
    setxattr: refuse, removexattr: refuse,
  };
}
