/** A constructor that returns the object it is given: its subclass's private fields are then added to that object. */
class Lend {
  constructor(obj: object) {
    return obj;
  }
}

interface Slot<T> {
  has(obj: object): boolean;
  get(obj: object): T;
  add(obj: object, value: T): void;
  set(obj: object, value: T): void;
}

/** A private field of a class of its own, which objects are given by `add`. */
function privateSlot<T>(): Slot<T> {
  let slot!: Slot<T>;
  class Holder extends Lend {
    #value: T | undefined;

    static {
      slot = {
        has: (obj) => #value in obj,
        get: (obj) => (obj as Holder).#value as T,
        add: (obj, value) => { (new Holder(obj) as Holder).#value = value; },
        set: (obj, value) => { (obj as Holder).#value = value; },
      };
    }
  }
  return slot;
}

/**
 * A value procstat keeps on objects of the program (an instance's key, a mark): in a private field
 * added to the object, so it shows nowhere, not even to Reflect.ownKeys or util.inspect with
 * showHidden, costs about a property store, and goes with the object. Not in a WeakMap: V8 never
 * shrinks a long-lived WeakMap's table after its keys die, so 100,000 released instances would keep
 * megabytes for good. Objects that are not extensible (frozen, sealed) use a WeakMap all the same.
 */
export class ObjectSlot<T> {
  private readonly slot = privateSlot<T>();
  private readonly fallback = new WeakMap<object, T>();
  /** Whether `fallback` was ever given an object: until then a miss is answered without asking Object.isExtensible (walks of deep trees ask often). */
  private usesFallback = false;

  has(obj: object): boolean {
    return this.slot.has(obj) || (this.usesFallback && !Object.isExtensible(obj) && this.fallback.has(obj));
  }

  get(obj: object): T | undefined {
    if (this.slot.has(obj)) return this.slot.get(obj);
    return !this.usesFallback || Object.isExtensible(obj) ? undefined : this.fallback.get(obj);
  }

  set(obj: object, value: T): void {
    if (this.slot.has(obj)) this.slot.set(obj, value);
    else if (Object.isExtensible(obj)) this.slot.add(obj, value);
    else {
      this.usesFallback = true;
      this.fallback.set(obj, value);
    }
  }
}
