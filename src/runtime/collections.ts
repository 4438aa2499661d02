import { sanitizeName } from './names';

export function isCollection(value: unknown): value is unknown[] | Map<unknown, unknown> {
  return Array.isArray(value) || value instanceof Map;
}

/**
 * The entries of an array (by index) or a Map (by sanitized key) as they are shown: when Map keys
 * sanitize to one name, the later ones in the Map's order get -1, -2 … as instance keys do.
 */
export function elementsOf(collection: unknown[] | Map<unknown, unknown>): Array<[string, unknown]> {
  if (Array.isArray(collection)) return collection.map((value, index) => [String(index), value]);
  const byName = new Map<string, unknown>();
  for (const [key, value] of collection) {
    const base = sanitizeName(key);
    let name = base;
    for (let n = 1; byName.has(name); n++) name = `${base}-${n}`;
    byName.set(name, value);
  }
  return [...byName];
}
