/** What ClassDir and the publisher need of a table: a `Map` has it, and so has IntTable. */
export interface Table<K, V> {
  get(key: K): V | undefined;
  set(key: K, value: V): unknown;
  has(key: K): boolean;
  delete(key: K): boolean;
  readonly size: number;
  keys(): IterableIterator<K>;
  entries(): IterableIterator<[K, V]>;
}

/** Slots per chunk: a chunk held by one long-lived entry costs about 1 KB. */
const CHUNK = 128;

interface Chunk<V> {
  slots: Array<V | undefined>;
  count: number;
}

/**
 * A map from non-negative integers (sequence numbers, inode numbers) to values, kept in chunks of
 * CHUNK slots. A V8 Map of 100,000 entries grows, shrinks and sheds its deleted entries by
 * rebuilding its whole table at once, which blocked the main thread for tens of milliseconds under
 * churn; here an entry costs one store, and a chunk is made or dropped as its first entry comes or
 * its last goes. Other keys (a name that is not a number) are never found. Iteration follows the
 * chunks' creation order, keys ascending within a chunk, and sees changes made while it runs.
 */
export class IntTable<V> implements Table<number, V> {
  private readonly chunks = new Map<number, Chunk<V>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(key: number): V | undefined {
    return IntTable.valid(key) ? this.chunks.get(Math.floor(key / CHUNK))?.slots[key % CHUNK] : undefined;
  }

  has(key: number): boolean {
    return this.get(key) !== undefined;
  }

  /** `value` must not be undefined (a set stores `true`). */
  set(key: number, value: V): this {
    if (!IntTable.valid(key)) throw new RangeError(`IntTable: ${key} is not a non-negative integer`);
    const index = Math.floor(key / CHUNK);
    let chunk = this.chunks.get(index);
    if (!chunk) {
      chunk = { slots: new Array<V | undefined>(CHUNK).fill(undefined), count: 0 };
      this.chunks.set(index, chunk);
    }
    if (chunk.slots[key % CHUNK] === undefined) { chunk.count++; this.count++; }
    chunk.slots[key % CHUNK] = value;
    return this;
  }

  delete(key: number): boolean {
    if (!IntTable.valid(key)) return false;
    const index = Math.floor(key / CHUNK);
    const chunk = this.chunks.get(index);
    if (chunk === undefined || chunk.slots[key % CHUNK] === undefined) return false;
    chunk.slots[key % CHUNK] = undefined;
    this.count--;
    if (--chunk.count === 0) this.chunks.delete(index);
    return true;
  }

  clear(): void {
    this.chunks.clear();
    this.count = 0;
  }

  *entries(): IterableIterator<[number, V]> {
    for (const [index, chunk] of this.chunks) {
      for (let slot = 0; slot < CHUNK; slot++) {
        const value = chunk.slots[slot];
        if (value !== undefined) yield [index * CHUNK + slot, value];
      }
    }
  }

  *keys(): IterableIterator<number> {
    for (const [key] of this.entries()) yield key;
  }

  private static valid(key: number): boolean {
    return typeof key === 'number' && Number.isInteger(key) && key >= 0;
  }
}
