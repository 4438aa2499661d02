import { ProcstatError } from './errors';
import { ParameterType } from './parse';

const TYPES: readonly ParameterType[] = ['int', 'uint', 'number', 'bigint', 'boolean', 'string'];
const FORMATS: readonly string[] = ['decimal', 'hex', 'address'];

/** The options of a value or parameter file, as given (from JavaScript they can be anything). */
export interface GivenFileOptions {
  type?: unknown;
  min?: unknown;
  max?: unknown;
  validate?: unknown;
  format?: unknown;
}

function shown(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : typeof value === 'bigint' ? `${value}n` : String(value);
}

function isBound(value: unknown): value is number | bigint {
  return typeof value === 'bigint' || (typeof value === 'number' && !Number.isNaN(value));
}

/**
 * Checks a file's options where they are given (a decorator when its class is defined, `create…`
 * when called): a mistake fails there, not at the first read or write. `where` starts the message.
 */
export function checkFileOptions(options: GivenFileOptions, where: string): void {
  const { type, min, max, validate, format } = options;
  const fail = (problem: string) => { throw new ProcstatError('EINVAL', `${where}: ${problem}`); };
  if (type !== undefined && !TYPES.includes(type as ParameterType)) fail(`type ${shown(type)} is not one of ${TYPES.join(', ')}`);
  if (min !== undefined && !isBound(min)) fail(`min ${shown(min)} is not a number or bigint`);
  if (max !== undefined && !isBound(max)) fail(`max ${shown(max)} is not a number or bigint`);
  if (isBound(min) && isBound(max) && min > max) fail(`min ${shown(min)} is above max ${shown(max)}, so no value could be written`);
  if (validate !== undefined && typeof validate !== 'function') fail('validate must be a function returning true, false or a message');
  if (format !== undefined && typeof format !== 'function' && !FORMATS.includes(format as string)) {
    fail(`format ${shown(format)} is not 'decimal', 'hex', 'address' or a function`);
  }
}
