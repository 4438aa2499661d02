/** How a value file prints its value: a named format or a function of the value. */
export type ValueFormat = 'decimal' | 'hex' | 'address' | ((value: any) => string);

/**
 * The text of a value as SPEC §4 fixes it: integers in decimal (never in exponent form), other
 * numbers as JavaScript prints them, bigint exact, boolean 1/0, Date ISO-8601, strings as they are.
 */
export function formatDecimal(value: unknown): string {
  switch (typeof value) {
    case 'number':
      return Number.isInteger(value) && Math.abs(value) >= 1e21 ? BigInt(value).toString() : String(value);
    case 'bigint':
      return value.toString();
    case 'boolean':
      return value ? '1' : '0';
    case 'string':
      return value;
    default:
      if (value instanceof Date) return value.toISOString();
      return value === undefined || value === null ? '' : String(value);
  }
}

function toInteger(value: unknown): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'boolean') return value ? 1n : 0n;
  return BigInt(Math.trunc(Number(value)));
}

/** Lower-case hex with a 0x prefix: `0x1f`. */
export function formatHex(value: unknown): string {
  const n = toInteger(value);
  return n < 0n ? `-0x${(-n).toString(16)}` : `0x${n.toString(16)}`;
}

/** A 64-bit address: `0x` and 16 hex digits. */
export function formatAddress(value: unknown): string {
  return `0x${BigInt.asUintN(64, toInteger(value)).toString(16).padStart(16, '0')}`;
}

export function formatterFor(format: ValueFormat = 'decimal'): (value: unknown) => string {
  if (typeof format === 'function') return (value) => String(format(value));
  switch (format) {
    case 'decimal': return formatDecimal;
    case 'hex': return formatHex;
    case 'address': return formatAddress;
    default: throw new TypeError(`unknown format ${JSON.stringify(format)}; use 'decimal', 'hex', 'address' or a function`);
  }
}
