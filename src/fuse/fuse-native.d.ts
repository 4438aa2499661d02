// The part of fuse-native 2.2.6 (which ships no types) that procstat uses.
declare module 'fuse-native' {
  type Callback = (errno: number, ...results: any[]) => void;
  class Fuse {
    constructor(mountpoint: string, ops: Record<string, (...args: any[]) => void>, options?: Record<string, unknown>);
    mount(cb: (err: Error | null) => void): void;
    unmount(cb: (err: Error | null) => void): void;
    _fuseOptions(): string;
    static unmount(mountpoint: string, cb: (err: Error | null) => void): void;
    static [errno: string]: any;
  }
  export = Fuse;
  export type { Callback };
}
