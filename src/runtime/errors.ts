/** The errno-style codes procstat reports; they match what the mount answers the kernel. */
export type ProcstatErrorCode =
  | 'EEXIST' | 'EINVAL' | 'ENOENT' | 'EACCES' | 'EIO' | 'EPERM' | 'EBUSY' | 'ENOTDIR' | 'ENODEV' | 'EAGAIN';

/** Every error procstat throws or rejects with. `code` is stable; the message says what to do. */
export class ProcstatError extends Error {
  constructor(readonly code: ProcstatErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ProcstatError';
  }
}
