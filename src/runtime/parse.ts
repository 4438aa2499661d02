import { ProcstatError } from './errors';

/** The types a parameter write is parsed as. */
export type ParameterType = 'int' | 'uint' | 'number' | 'bigint' | 'boolean' | 'string';

/** Larger writes are refused: a parameter is a value, not a document. */
export const MAX_WRITE_BYTES = 4096;

const INTEGER = /^[+-]?(?:\d+|0[xX][0-9a-fA-F]+)$/;
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
/** An ISO-8601 date, as a Date file prints (`2026-01-02T03:04:05.000Z`), or a shorter form of it. */
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:\d{2})?)?$/;
const TRUE = new Set(['1', 'true', 'yes', 'on']);
const FALSE = new Set(['0', 'false', 'no', 'off']);

function invalid(text: string, type: ParameterType): ProcstatError {
  const shown = text.length > 40 ? `${text.slice(0, 40)}…` : text;
  return new ProcstatError('EINVAL', `${JSON.stringify(shown)} is not a valid ${type}`);
}

function parseInteger(text: string, type: 'int' | 'uint'): number {
  if (!INTEGER.test(text)) throw invalid(text, type);
  const negative = text.startsWith('-');
  const magnitude = Number(text.replace(/^[+-]/, ''));
  const value = negative ? -magnitude : magnitude;
  if (!Number.isSafeInteger(value) || (type === 'uint' && value < 0)) throw invalid(text, type);
  return value;
}

/**
 * Parses what was written to a parameter. One trailing newline is dropped (`echo 5 > file`);
 * other than for strings, surrounding blanks are too. Anything else is EINVAL.
 */
export function parseValue(raw: string, type: ParameterType): unknown {
  const withoutNewline = raw.endsWith('\n') ? raw.slice(0, -1) : raw;
  if (type === 'string') return withoutNewline;
  const text = withoutNewline.trim();
  switch (type) {
    case 'int':
    case 'uint':
      return parseInteger(text, type);
    case 'number': {
      const value = Number(text);
      if (!NUMBER.test(text) || !Number.isFinite(value)) throw invalid(text, type); // 1e400 is Infinity
      return value;
    }
    case 'bigint':
      if (!INTEGER.test(text)) throw invalid(text, type);
      return text.startsWith('-') ? -BigInt(text.slice(1)) : BigInt(text.replace(/^\+/, ''));
    case 'boolean': {
      const lower = text.toLowerCase();
      if (TRUE.has(lower)) return true;
      if (FALSE.has(lower)) return false;
      throw invalid(text, type);
    }
  }
}

/** A write to a parameter that holds a Date: an ISO-8601 date, else EINVAL (never a string in its place). */
export function parseDate(raw: string): Date {
  const text = (raw.endsWith('\n') ? raw.slice(0, -1) : raw).trim();
  const date = new Date(text);
  // Date rolls a day that does not exist over (2026-02-30 is March 2nd): the day must survive.
  const [year, month, day] = text.split(/[-T]/).map(Number);
  const exists = new Date(Date.UTC(year, month - 1, day)).getUTCDate() === day;
  if (!ISO_DATE.test(text) || Number.isNaN(date.getTime()) || !exists) {
    throw new ProcstatError('EINVAL', `${JSON.stringify(text.slice(0, 40))} is not a valid date; write it as ISO-8601, e.g. 2026-01-02T03:04:05.000Z`);
  }
  return date;
}

/** The parameter type that fits a current value (`4` → int, `0.5` → number, `4n` → bigint). */
export function inferType(value: unknown): ParameterType {
  switch (typeof value) {
    case 'number': return Number.isInteger(value) ? 'int' : 'number';
    case 'bigint': return 'bigint';
    case 'boolean': return 'boolean';
    default: return 'string';
  }
}
