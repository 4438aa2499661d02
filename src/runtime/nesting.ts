import { ClassSpec, specOfInstance } from './class-spec';
import { ClassDir } from './class-dir';
import { elementsOf, isCollection } from './collections';
import { ObjectSlot } from './object-slot';

/**
 * Which `@StatDir` instances are shown nested in another instance's directory instead of at the top
 * of their class directory. The rule: an instance is left out of its class directory while it is
 * reachable through data fields (and the arrays and Maps in them) from an instance that is listed;
 * every other live instance is listed. In a ring that nothing outside it holds, the member procstat
 * found holding first is listed and the others are shown under it. So an object is shown in every
 * place that holds it, or at its own top-level directory: never nowhere.
 *
 * Fields are plain properties that change without telling anyone: the holders' fields are read again
 * by `update()`, before a class directory is listed and on every refresh round of a mount. Getters
 * are not read (they are user code, run only when their file is read): an object a getter returns
 * is shown under it and stays in its class directory too.
 */

/** What the nesting needs from the stats tree. */
export interface NestingHost {
  isReleased(obj: object): boolean;
  /** The class directory that lists `obj` at its top level (none for singletons and other trees' instances). */
  classDirOf(obj: object): ClassDir | undefined;
  classDirs(): Iterable<ClassDir>;
  /** True for an instance the tree lists at the top when nothing holds it (in its class or singleton directory). */
  listable(obj: object): boolean;
}

export class Nesting {
  /** Instances seen with a `@StatDir` object or a collection in a data field, in the order they were seen. */
  private readonly holders = new Set<WeakRef<object>>();
  /** On the holders themselves: the tree's own mark, since an object may be registered in several trees. */
  private readonly holding = new ObjectSlot<true>();
  /** A collected holder's entry goes, even in a tree that is never listed (and so never updated). */
  private readonly finalizer = new FinalizationRegistry<WeakRef<object>>((ref) => this.holders.delete(ref));
  private updateQueued = false;

  constructor(private readonly host: NestingHost) {}

  /**
   * A newly registered instance: what its constructor put in its fields is shown under it at once
   * (it is listed itself, so they stay reachable), not a second time at the top level.
   */
  register(obj: object, spec: ClassSpec): void {
    if (!this.mayHold(obj, spec)) return;
    this.holds(obj);
    for (const held of this.heldBy(obj)) this.host.classDirOf(held)?.nest(held);
  }

  /** A holder was released: what it held is listed again before this tick ends, not a refresh round later. */
  released(obj: object): void {
    if (!this.holding.has(obj) || this.updateQueued) return;
    this.updateQueued = true;
    queueMicrotask(() => {
      this.updateQueued = false;
      this.update();
    });
  }

  /** `obj` was seen holding a `@StatDir` object or a collection in a data field: read it on every update. */
  holds(obj: object): void {
    if (this.holding.has(obj)) return;
    this.holding.set(obj, true);
    const ref = new WeakRef(obj);
    this.holders.add(ref);
    this.finalizer.register(obj, ref);
  }

  /** Reads every holder's fields again and moves the instances they show in or out of their class directories. */
  update(): void {
    const nested = this.reachable(this.readHolders());
    for (const dir of this.host.classDirs()) dir.unnest((obj) => nested.has(obj));
    for (const obj of nested) this.host.classDirOf(obj)?.nest(obj);
  }

  /** What each live, unreleased holder's data fields show now, in the order the holders were seen. */
  private readHolders(): Map<object, object[]> {
    const held = new Map<object, object[]>();
    for (const ref of this.holders) {
      const holder = ref.deref();
      if (holder === undefined || this.host.isReleased(holder)) this.holders.delete(ref);
      else held.set(holder, this.heldBy(holder));
    }
    return held;
  }

  /**
   * The objects to show nested: those reachable from a listed holder. Listed first are the holders
   * nothing holds; then, for what is still unreached, the first holder of each ring nothing outside holds.
   */
  private reachable(held: Map<object, object[]>): Set<object> {
    const heldAnywhere = new Set<object>();
    for (const objs of held.values()) for (const obj of objs) heldAnywhere.add(obj);
    const nested = new Set<object>();
    const visit = (root: object) => {
      for (const stack = [root]; stack.length > 0;) {
        for (const obj of held.get(stack.pop()!) ?? []) {
          if (obj === root || nested.has(obj)) continue;
          nested.add(obj);
          stack.push(obj);
        }
      }
    };
    // Only an instance this tree lists can be a root: one seen under a getter, or registered elsewhere, cannot.
    for (const holder of held.keys()) if (!heldAnywhere.has(holder) && this.host.listable(holder)) visit(holder);
    for (const holder of held.keys()) if (!nested.has(holder) && heldAnywhere.has(holder) && this.host.listable(holder)) visit(holder);
    return nested;
  }

  /** Holds a `@StatDir` object or a collection in a data field, or may be given one: a `@Stat` data field that is still empty. */
  private mayHold(obj: object, spec: ClassSpec): boolean {
    // Every instance goes through here when it is made: plain loops, and a number is passed over at once.
    for (const key of spec.dataKeys) {
      const value = (obj as any)[key];
      if (typeof value === 'object' && value !== null && (isCollection(value) || specOfInstance(value) !== undefined)) return true;
    }
    for (const key of spec.statDataKeys) if ((obj as any)[key] === null || (obj as any)[key] === undefined) return true;
    return false;
  }

  /** The unreleased `@StatDir` objects `holder`'s data fields show: the fields' values and the elements of their arrays and Maps, at any depth. */
  private heldBy(holder: object): object[] {
    const objs: object[] = [];
    const values: unknown[] = specOfInstance(holder)!.dataKeys.map((key) => (holder as any)[key]);
    const seen = new Set<unknown>(); // collections inside collections are shown too, and may hold themselves
    for (let i = 0; i < values.length; i++) {
      const value = values[i];
      if (isCollection(value)) {
        if (!seen.has(value)) values.push(...elementsOf(value).map(([, element]) => element));
        seen.add(value);
      } else if (specOfInstance(value) && !this.host.isReleased(value as object)) {
        objs.push(value as object);
      }
    }
    return objs;
  }
}
