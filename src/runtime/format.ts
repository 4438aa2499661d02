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

/**
 * The digits the C library's `%lx` prints: lower-case hex, no prefix, a negative value as its 64-bit
 * two's complement (`-1` → `ffffffffffffffff`). Integers beyond 64 bits (bigint) print all their
 * digits, with a `-` below -2^63, rather than wrap into a wrong number.
 */
function hexDigits(value: unknown): string {
  const n = toInteger(value);
  if (n >= 0n) return n.toString(16);
  return n >= -(2n ** 63n) ? BigInt.asUintN(64, n).toString(16) : `-${(-n).toString(16)}`;
}

/** The C library's hex formatter, `%lx`: `ff`. */
export function formatHex(value: unknown): string {
  return hexDigits(value);
}

/** The C library's address formatter, `0x%lx`: `0xff`, `0x7f001234`. */
export function formatAddress(value: unknown): string {
  const digits = hexDigits(value);
  return digits.startsWith('-') ? `-0x${digits.slice(1)}` : `0x${digits}`;
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
