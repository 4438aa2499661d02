import { ClassSpec, specOfInstance } from './class-spec';
import { ClassDir } from './class-dir';
import { HeldObjects, mayHold, NONE } from './held-objects';
import { ObjectSlot } from './object-slot';

/**
 * Which `@StatDir` instances are shown nested in another instance's directory instead of at the top
 * of their class directory. The rule: an instance is left out of its class directory while it is
 * reachable through data fields (and the arrays and Maps in them) from an instance that is listed;
 * every other live instance is listed. In a ring that nothing outside it holds, the member procstat
 * found holding another first is listed and the others are shown under it. So an object is shown in every
 * place that holds it, or at its own top-level directory: never nowhere.
 *
 * Fields are plain properties that change without telling anyone, so the holders' fields are read
 * again: all of them by `update()`, before a class directory is listed (a reader pays for that), and
 * a share of them by each `refresh()`, a mount's refresh round, going on where the last round
 * stopped, so that an idle app with many holders pays little (the limits below): a move among many
 * holders shows after a bounded number of rounds, not at the next one. What each holder showed is
 * kept on it; which instances are nested is worked out again only when what some holder shows
 * changed, from the holders that show `@StatDir` objects only (most arrays hold numbers and strings),
 * and only the instances whose place changed are told to their class directories. Getters are not
 * read (they are user code, run only when their file is read): an object a getter returns is shown
 * under it and stays in its class directory too.
 */

/**
 * A refresh round reads holders for REFRESH_SLICE_MS, and at least REFRESH_MIN_HOLDERS of them (so
 * every holder is read again within ⌈holders / REFRESH_MIN_HOLDERS⌉ rounds), at most REFRESH_MAX_HOLDERS.
 * While holders keep changing, rounds work the nesting out again (which costs as many holders as show
 * objects) at most RECOMPUTE_SHARE of the time.
 */
export const REFRESH_SLICE_MS = 0.5, REFRESH_MIN_HOLDERS = 1000, REFRESH_MAX_HOLDERS = 5000, RECOMPUTE_SHARE = 0.1;

/** What the nesting needs from the stats tree. */
export interface NestingHost {
  isReleased(obj: object): boolean;
  /** The class directory that lists `obj` at its top level (none for singletons and other trees' instances). */
  classDirOf(obj: object): ClassDir | undefined;
  classDirs(): Iterable<ClassDir>;
  /** True for an instance the tree lists at the top when nothing holds it (in its class or singleton directory). */
  listable(obj: object): boolean;
}

/** What the nesting keeps on a holder (in a private field, object-slot.ts: it goes with the holder). */
interface HolderState {
  readonly ref: WeakRef<object>; // its entry in the lists of holders
  readonly keys: readonly (string | symbol)[]; // its class's data fields
  /** The unreleased `@StatDir` objects its data fields showed when last read, in a stable order. */
  held: readonly object[];
  /** Whether this tree lists it when nothing holds it, once asked (it changes only when it is registered or replaced). */
  listable?: boolean;
  /** The last time the nesting was worked out (`Nesting.epoch`) when another holder held it. */
  heldAt: number;
}

export class Nesting {
  /** Instances seen with a `@StatDir` object or a collection in a data field, in the order they were seen. */
  private readonly holders = new Set<WeakRef<object>>();
  /** Of those, the ones whose fields showed `@StatDir` objects when last read, in the order they began to. */
  private readonly showing = new Set<WeakRef<object>>();
  /** On the holders themselves: the tree's own record, since an object may be registered in several trees. */
  private readonly state = new ObjectSlot<HolderState>();
  /** A collected holder's entry goes, even in a tree that is never listed (and so never updated). */
  private readonly finalizer = new FinalizationRegistry<WeakRef<object>>((ref) => {
    this.holders.delete(ref);
    if (this.showing.delete(ref)) this.lost();
  });
  /** Where the last refresh round stopped reading holders. */
  private cursor: Iterator<WeakRef<object>> | null = null;
  /** What some holder shows changed since the nesting was last worked out. */
  private changed = false;
  private recomputeQueued = false;
  private recomputedAt = 0; // when the last working out ended, and what it took (ms)
  private recomputeMs = 0;
  /**
   * Objects that holders stopped showing since the nesting was last worked out: those the nesting
   * then finds shown nowhere (and what they hold) are listed again. Kept no longer than that.
   */
  private dropped: object[] = [];
  /** A holder went without its objects being known (collected): every nested instance is looked at. */
  private unnestAll = false;
  /** How many times the nesting was worked out (HolderState.heldAt). */
  private epoch = 0;
  private readonly reader: HeldObjects;

  constructor(private readonly host: NestingHost) {
    this.reader = new HeldObjects((obj) => host.isReleased(obj));
  }

  /**
   * A newly registered instance: what its constructor put in its fields is shown under it at once
   * (it is listed itself, so they stay reachable), not a second time at the top level.
   */
  register(obj: object, spec: ClassSpec): void {
    // Seen holding before it was registered here: listed now, it may be a root of what it holds.
    const known = this.state.get(obj);
    if (known) {
      known.listable = undefined;
      this.changed = true;
    }
    if (!mayHold(obj, spec)) return;
    const state = this.track(obj, spec);
    if (!state) return;
    for (const held of state.held) {
      const dir = this.host.classDirOf(held);
      if (dir?.has(held)) dir.nest(held);
      // One that is not listed here (another tree's, a singleton) may hold instances of this tree.
      else if (this.state.get(held)?.held.length) this.changed = true;
    }
  }

  /** A holder was released: what it held is listed again before this tick ends, not a refresh round later. */
  released(obj: object): void {
    const state = this.state.get(obj);
    if (!state) return;
    this.holders.delete(state.ref);
    this.forget(state);
    if (!this.changed || this.recomputeQueued) return;
    this.recomputeQueued = true;
    queueMicrotask(() => {
      this.recomputeQueued = false;
      if (this.changed) this.recompute();
    });
  }

  /** A singleton that was replaced: no longer listed, it is no root of what it holds. */
  unlisted(obj: object): void {
    const state = this.state.get(obj);
    if (!state) return;
    state.listable = undefined;
    if (state.held.length > 0) {
      this.dropped.push(...state.held);
      this.changed = true;
    }
  }

  /** `obj` was seen holding a `@StatDir` object or a collection in a data field: read it in updates from now on. */
  holds(obj: object): void {
    if (this.state.has(obj)) return;
    const spec = specOfInstance(obj);
    if (spec && this.track(obj, spec)?.held.length) this.changed = true;
  }

  /** Reads every holder's fields again and moves the instances they show in or out of their class directories. */
  update(): void {
    for (const ref of this.holders) this.readRef(ref);
    if (this.changed) this.recompute();
  }

  /**
   * A refresh round of a mount: reads the next share of holders, going on where the last round
   * stopped (see REFRESH_SLICE_MS), and works the nesting out again if what one of them shows changed.
   * Returns the number of holders read.
   */
  refresh(): number {
    const start = performance.now();
    let read = 0;
    for (const total = this.holders.size; read < total && read < REFRESH_MAX_HOLDERS; read++) {
      if (read >= REFRESH_MIN_HOLDERS && read % 64 === 0 && performance.now() - start > REFRESH_SLICE_MS) break;
      let next = (this.cursor ??= this.holders.values()).next();
      if (next.done) next = (this.cursor = this.holders.values()).next(); // on from the first, up to where this round began
      if (next.done) break;
      this.readRef(next.value);
    }
    const wait = this.recomputeMs * (1 / RECOMPUTE_SHARE - 1);
    if (this.changed && performance.now() - this.recomputedAt >= wait) this.recompute();
    return read;
  }

  /** Starts reading `obj` as a holder: reads it now (what it shows is the caller's to place). */
  private track(obj: object, spec: ClassSpec): HolderState | undefined {
    if (this.state.has(obj)) return this.state.get(obj);
    if (this.host.isReleased(obj)) return undefined;
    const state: HolderState = { ref: new WeakRef(obj), keys: spec.dataKeys, held: NONE, heldAt: 0 };
    this.state.set(obj, state);
    this.holders.add(state.ref);
    this.finalizer.register(obj, state.ref);
    this.read(obj, state);
    return state;
  }

  /** Reads one holder, or drops it if it is gone. */
  private readRef(ref: WeakRef<object>): void {
    const holder = ref.deref();
    if (holder === undefined) {
      this.holders.delete(ref);
      if (this.showing.delete(ref)) this.lost();
    } else if (this.host.isReleased(holder)) {
      this.holders.delete(ref);
      this.forget(this.state.get(holder)!);
    } else if (this.read(holder, this.state.get(holder)!)) {
      this.changed = true;
    }
  }

  /** A holder is no longer read: what it showed may have to be listed again. */
  private forget(state: HolderState): void {
    if (!this.showing.delete(state.ref)) return;
    this.dropped.push(...state.held);
    state.held = NONE;
    this.changed = true;
  }

  /** A holder that showed objects went, and what it showed is not known (collected). */
  private lost(): void {
    this.unnestAll = true;
    this.changed = true;
  }

  /** Reads `holder`'s data fields again; true if what they show changed (the objects it no longer shows are dropped). */
  private read(holder: object, state: HolderState): boolean {
    const old = state.held;
    const held = this.reader.read(holder, state.keys, old);
    if (held === old) return false;
    if (old.length > 0) this.dropped.push(...old);
    state.held = held;
    if (held.length === 0) this.showing.delete(state.ref);
    else this.showing.add(state.ref);
    return true;
  }

  private listable(holder: object, state: HolderState): boolean {
    return state.listable ??= this.host.listable(holder);
  }

  /**
   * Works the nesting out again from what the holders that show objects showed when last read, and
   * moves instances in or out of their class directories: those newly nested, and those dropped
   * that are now shown nowhere. The objects to show nested are those reachable from a listed
   * holder: first from the holders nothing holds; then, for what is still unreached, from the first
   * holder of each ring nothing outside holds. Timed: see RECOMPUTE_SHARE.
   */
  private recompute(): void {
    const start = performance.now();
    try {
      this.workOut();
    } finally {
      this.recomputedAt = performance.now();
      this.recomputeMs = this.recomputedAt - start;
    }
  }

  private workOut(): void {
    this.changed = false;
    const epoch = ++this.epoch;
    const holders: object[] = [];
    const states: HolderState[] = [];
    for (const ref of this.showing) {
      const holder = ref.deref();
      if (holder === undefined) { this.showing.delete(ref); this.unnestAll = true; continue; }
      const state = this.state.get(holder)!;
      if (this.host.isReleased(holder)) { this.holders.delete(ref); this.forget(state); continue; }
      holders.push(holder);
      states.push(state);
      for (const obj of state.held) {
        const heldState = this.state.get(obj);
        if (heldState) heldState.heldAt = epoch; // only holders can be roots: the others need no mark
      }
    }
    // Transient, and no marks on the instances (another hidden class for them): nothing kept alive.
    const nested = new Set<object>();
    const visit = (root: object) => {
      for (const stack = [root]; stack.length > 0;) {
        for (const obj of this.state.get(stack.pop()!)?.held ?? NONE) {
          if (obj === root || nested.has(obj)) continue;
          nested.add(obj);
          stack.push(obj);
        }
      }
    };
    // Only an instance this tree lists can be a root: one seen under a getter, or registered elsewhere, cannot.
    for (let i = 0; i < holders.length; i++) if (states[i].heldAt !== epoch && this.listable(holders[i], states[i])) visit(holders[i]);
    for (let i = 0; i < holders.length; i++) {
      if (!nested.has(holders[i]) && states[i].heldAt === epoch && this.listable(holders[i], states[i])) {
        visit(holders[i]);
        this.dropped.push(holders[i]); // held, and listed all the same: nested until now, perhaps
      }
    }
    const dropped = this.dropped;
    this.dropped = [];
    if (this.unnestAll) {
      this.unnestAll = false;
      for (const dir of this.host.classDirs()) dir.unnest((obj) => nested.has(obj));
    } else {
      // What a dropped object holds was shown only through it, perhaps.
      const seen = new Set<object>();
      while (dropped.length > 0) {
        const obj = dropped.pop()!;
        if (nested.has(obj) || seen.has(obj)) continue;
        seen.add(obj);
        this.host.classDirOf(obj)?.unnestOne(obj);
        dropped.push(...this.state.get(obj)?.held ?? NONE);
      }
    }
    for (const obj of nested) {
      const dir = this.host.classDirOf(obj);
      if (dir && !dir.isNested(obj)) dir.nest(obj); // most are nested already: asked without a WeakRef
    }
  }
}
