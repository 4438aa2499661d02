import { Counter, Gauge, Parameter, StatDir } from '../src';

/** A small LRU cache; `echo 50 > …/cache/users/capacity` shrinks it live. */
@StatDir({ name: 'cache', key: 'name' })
export class LruCache<V> {
  @Counter() hits = 0;
  @Counter() misses = 0;
  @Counter() evictions = 0;
  @Gauge() get size() { return this.entries.size; }
  @Parameter({ min: 1, max: 1_000_000 }) capacity: number;
  private readonly entries = new Map<string, V>();

  constructor(readonly name: string, capacity: number) {
    this.capacity = capacity;
  }

  get(key: string): V | undefined {
    const value = this.entries.get(key);
    if (value === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.entries.delete(key);
    this.entries.set(key, value);
    return value;
  }

  set(key: string, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    while (this.entries.size > this.capacity) {
      this.entries.delete(this.entries.keys().next().value!);
      this.evictions++;
    }
  }
}
