// The baseline for mount figures: a bare fuse-native server (libfuse2, high-level path API, every
// operation answered in JavaScript on the main thread), serving the same paths and values as the
// procstat server, and nothing else. Mount options: procstat's own (fuseOptions: fsname, subtype,
// auto_unmount) plus direct_io, which procstat sets on every value it opens (content never cached,
// and files can report size 0). Entry and attribute timeouts are each side's own default: libfuse2's
// 1 s here, procstat's 1 h (it tells the kernel about removals).
import { fuseOptions } from '../src/fuse/mount';

const S_IFDIR = 0o040000, S_IFREG = 0o100000;
type Cb = (errno: number, ...results: any[]) => void;

/** dirs × files: /Item/<d>/f<i>, each file the value of one counter. Resolves with a function that unmounts. */
export function serveBare(mountpoint: string, dirs: number, files: number): Promise<() => Promise<void>> {
  const Fuse = require('fuse-native');
  const values = Array.from({ length: dirs }, () => new Array(files).fill(0));
  const names = Array.from({ length: files }, (_, i) => `f${i}`);
  const dirNames = Array.from({ length: dirs }, (_, d) => String(d));
  const stat = (mode: number) => ({ mode, size: 0, uid: 0, gid: 0, nlink: 1, mtime: 0, atime: 0, ctime: 0 });
  const handles = new Map<number, Buffer>();
  let nextFd = 1;
  const parse = (path: string) => {
    const parts = path.split('/').filter(Boolean);
    if (parts.length === 0) return { dir: true, list: ['Item'] };
    if (parts[0] !== 'Item') return undefined;
    if (parts.length === 1) return { dir: true, list: dirNames };
    const d = Number(parts[1]);
    if (!(d >= 0 && d < dirs)) return undefined;
    if (parts.length === 2) return { dir: true, list: names };
    const f = Number(parts[2].slice(1));
    if (parts.length === 3 && f >= 0 && f < files) return { dir: false, value: () => values[d][f] };
    return undefined;
  };
  const ops = {
    getattr(path: string, cb: Cb) {
      const node = parse(path);
      if (!node) return cb(-2);
      cb(0, stat(node.dir ? S_IFDIR | 0o755 : S_IFREG | 0o444));
    },
    readdir(path: string, cb: Cb) {
      const node = parse(path);
      if (!node || !node.dir) return cb(-2);
      cb(0, node.list);
    },
    open(path: string, flags: number, cb: Cb) {
      const node = parse(path);
      if (!node || node.dir) return cb(-2);
      const fd = nextFd++;
      handles.set(fd, Buffer.from(`${node.value!()}\n`));
      cb(0, fd);
    },
    read(path: string, fd: number, buf: Buffer, len: number, pos: number, cb: Cb) {
      const content = handles.get(fd)!;
      if (pos >= content.length) return cb(0);
      cb(content.copy(buf, 0, pos, Math.min(pos + len, content.length)));
    },
    release(path: string, fd: number, cb: Cb) {
      handles.delete(fd);
      cb(0);
    },
  };
  const fuse = new Fuse(mountpoint, ops, { mkdir: true, autoUnmount: true });
  // fuse-native passes this string to libfuse2's fuse_main-style parser: the same options as procstat's mount.
  fuse._fuseOptions = () => `-o${fuseOptions({})},direct_io`;
  const unmount = () => new Promise<void>((resolve, reject) => fuse.unmount((err: Error | null) => (err ? reject(err) : resolve())));
  return new Promise((resolve, reject) => fuse.mount((err: Error | null) => {
    if (err) reject(err); else resolve(unmount);
  }));
}
