import { ProcstatError } from './errors';

const VALID_NAME = /^[A-Za-z0-9._-]{1,255}$/;

/** True for a name the mount can show: 1–255 bytes of [A-Za-z0-9._-], not `.` or `..`. */
export function isValidName(name: string): boolean {
  return VALID_NAME.test(name) && name !== '.' && name !== '..';
}

/** Throws `EINVAL` naming the bad name; `where` says who asked for it (a class and field, a call). */
export function checkName(name: unknown, where: string): string {
  if (typeof name === 'string' && isValidName(name)) return name;
  throw new ProcstatError('EINVAL',
    `${where}: invalid name ${JSON.stringify(name)}; use 1-255 characters from [A-Za-z0-9._-], not "." or ".."`);
}

/**
 * The longest sanitized key: 255 bytes less room for the `-n` suffix a key in use gets (`-` and the
 * 16 digits of Number.MAX_SAFE_INTEGER), so that a suffixed key is still a valid name.
 */
export const MAX_KEY_LENGTH = 255 - 17;

/**
 * Turns any key into a valid name by replacing what a file name cannot hold (instance keys), cut to
 * MAX_KEY_LENGTH characters (all ASCII, so bytes).
 */
export function sanitizeName(key: unknown): string {
  let name = String(key).replace(/[^A-Za-z0-9._-]/g, '_').slice(0, MAX_KEY_LENGTH);
  if (name === '' || name === '.' || name === '..') name = name.replace(/\./g, '_') || '_';
  return name;
}
