import { ClassSpec, specOfInstance } from './class-spec';
import { isCollection } from './collections';

type Collection = unknown[] | Map<unknown, unknown>;

/** No objects: what most holders show (their arrays hold numbers and strings). */
export const NONE: readonly object[] = Object.freeze([]);

/** Holds a `@StatDir` object or a collection in a data field, or may be given one: a `@Stat` data field that is still empty. */
export function mayHold(obj: object, spec: ClassSpec): boolean {
  // Every instance goes through here when it is made: plain loops, and a number is passed over at once.
  for (const key of spec.dataKeys) {
    const value = (obj as any)[key];
    if (typeof value === 'object' && value !== null && (isCollection(value) || specOfInstance(value) !== undefined)) return true;
  }
  for (const key of spec.statDataKeys) if ((obj as any)[key] === null || (obj as any)[key] === undefined) return true;
  return false;
}

/**
 * Reads which unreleased `@StatDir` objects a holder's data fields show: the fields' values and the
 * elements of their arrays and Maps at any depth. A refresh round reads thousands of holders, so a
 * read allocates nothing unless what the holder shows changed (nesting.ts).
 */
export class HeldObjects {
  /** The objects found so far by the read under way. */
  private readonly found: object[] = [];
  private count = 0;
  /** Collections still to look into, and those seen, when a collection holds collections (they may hold themselves). */
  private readonly stack: Collection[] = [];
  private seen: Set<Collection> | null = null;

  constructor(private readonly isReleased: (obj: object) => boolean) {}

  /** What `holder`'s fields `keys` show, in a stable order: `previous` itself when that is unchanged. */
  read(holder: object, keys: readonly (string | symbol)[], previous: readonly object[]): readonly object[] {
    this.count = 0;
    for (let k = 0; k < keys.length; k++) {
      const value = (holder as any)[keys[k]];
      if (typeof value !== 'object' || value === null) continue;
      if (isCollection(value)) this.collect(value);
      // The object it showed here last time is known to be a @StatDir object.
      else if (value === previous[this.count] ? !this.isReleased(value) : this.showable(value)) this.found[this.count++] = value;
    }
    const { found, count } = this;
    let same = previous.length === count;
    for (let i = 0; same && i < count; i++) same = previous[i] === found[i];
    const result = same ? previous : count === 0 ? NONE : found.slice(0, count);
    for (let i = 0; i < count; i++) found[i] = undefined as never; // keeps nothing alive (and no call to shrink it)
    return result;
  }

  private collect(root: Collection): void {
    for (let collection: Collection | undefined = root; collection !== undefined; collection = this.stack.pop()) {
      if (Array.isArray(collection)) {
        for (let i = 0, length = collection.length; i < length; i++) {
          const element = collection[i];
          if (typeof element === 'object' && element !== null) this.take(element, root);
        }
      } else {
        for (const element of collection.values()) if (typeof element === 'object' && element !== null) this.take(element, root);
      }
    }
    this.seen = null;
  }

  /** An element of a collection: a collection to look into (once), or an object to show. */
  private take(element: object, root: Collection): void {
    if (isCollection(element)) {
      this.seen ??= new Set([root]);
      if (this.seen.has(element)) return;
      this.seen.add(element);
      this.stack.push(element);
    } else if (this.showable(element)) {
      this.found[this.count++] = element;
    }
  }

  private showable(value: object): boolean {
    return specOfInstance(value) !== undefined && !this.isReleased(value);
  }
}
