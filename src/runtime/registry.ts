import { Census } from './census';
import { ClassDir, ClassRegistry } from './class-dir';
import { ClassSpec, specOfInstance } from './class-spec';
import { ProcstatError } from './errors';
import { InstanceDir } from './instance-dir';
import { Nesting } from './nesting';
import { DirNode, nodesMayBeRemoved } from './nodes';
import { ObjectSlot } from './object-slot';

/** Marks an object released by `release()`, in every registry it is registered in. */
const released = new ObjectSlot<true>();

/**
 * A context's `@StatDir` instances: each class a directory at the root (a singleton its own
 * directory), each instance held weakly below it, shown nested under another instance instead while
 * that one's data fields hold it (nesting.ts), and counted in `procstat/classes/` (census.ts).
 */
export class Registry implements ClassRegistry {
  private readonly classDirs = new Map<ClassSpec, ClassDir>();
  /** The classes whose instances register here (their @StatDir names this context). */
  private readonly specs = new Set<ClassSpec>();
  private readonly nesting = new Nesting({
    isReleased: (obj) => this.isReleased(obj),
    classDirOf: (obj) => this.classDirOf(obj),
    classDirs: () => this.classDirs.values(),
    listable: (obj) => this.classDirOf(obj)?.has(obj) === true || this.singletonDirOf(obj) !== undefined,
  });
  private readonly census: Census;

  constructor(private readonly root: DirNode) {
    this.census = new Census(root);
  }

  /**
   * Shows a `@StatDir` instance (decorated classes call this when their constructor finishes). Holds it
   * weakly: its directory disappears when it is released or collected.
   */
  register(obj: object, spec: ClassSpec | undefined = specOfInstance(obj)): void {
    if (!spec) throw new ProcstatError('EINVAL', `register: ${obj?.constructor?.name ?? typeof obj} is not a @StatDir class`);
    // A constructor may return an object it made before (a cache, an interned instance): shown once,
    // and never again once released.
    if (this.isReleased(obj)) return;
    if (spec.options.singleton) {
      const previous = this.root.child(spec.dirName);
      if (previous instanceof InstanceDir && previous.ref.deref() === obj) return;
      if (previous instanceof InstanceDir) {
        this.root.delete(previous);
        const replaced = previous.ref.deref();
        if (replaced) this.nesting.unlisted(replaced);
      }
      this.root.add(new InstanceDir(spec.dirName, new WeakRef(obj), spec, this));
      this.specs.add(spec);
    } else if (!this.classDirFor(spec).addInstance(obj)) {
      return;
    }
    this.census.created(spec); // after the class's directory: a name taken at the root is the error to see
    this.nesting.register(obj, spec);
  }

  /**
   * Removes an instance's directory now, without waiting for garbage collection. (Its registry
   * entry goes when the object is collected, or when a new instance takes its key.)
   */
  release(obj: object): void {
    if (typeof obj !== 'object' || obj === null) {
      throw new ProcstatError('EINVAL', `release() takes a @StatDir instance, not ${obj === null ? 'null' : typeof obj}`);
    }
    const spec = specOfInstance(obj);
    if (!spec) return; // never shown: nothing to remove
    if (!this.specs.has(spec)) {
      throw new ProcstatError('EINVAL', `release(): ${spec.className} instances are shown by another context; call release() on the ` +
        `context its @StatDir names (@StatDir({ context }))`);
    }
    if (!this.isReleased(obj)) this.census.released(spec);
    released.set(obj, true);
    nodesMayBeRemoved(); // its directories anywhere in the tree, and what is below them
    this.classDirOf(obj)?.hide(obj);
    this.nesting.released(obj);
    const singleton = this.singletonDirOf(obj);
    if (singleton) this.root.delete(singleton);
  }

  collected(spec: ClassSpec): void {
    this.census.collected(spec);
  }

  isReleased(obj: object): boolean {
    return released.has(obj);
  }

  holds(obj: object): void {
    this.nesting.holds(obj);
  }

  refOf(obj: object): WeakRef<object> | undefined {
    return this.classDirOf(obj)?.refOf(obj);
  }

  /**
   * Reads again the fields of the instances that hold others, and shows each instance nested under
   * them or in its class directory by the rule in nesting.ts.
   */
  updateNesting(): void {
    this.nesting.update();
  }

  /** A mount's refresh round: reads a bounded share of those fields (nesting.ts), so that an idle app pays little. */
  refreshNesting(): void {
    this.nesting.refresh();
  }

  private classDirOf(obj: object): ClassDir | undefined {
    const spec = specOfInstance(obj);
    return spec && this.classDirs.get(spec);
  }

  /** The directory at the root that shows `obj`, a singleton. */
  private singletonDirOf(obj: object): InstanceDir | undefined {
    const spec = specOfInstance(obj);
    const dir = spec?.options.singleton ? this.root.child(spec.dirName) : undefined;
    return dir instanceof InstanceDir && dir.ref.deref() === obj ? dir : undefined;
  }

  private classDirFor(spec: ClassSpec): ClassDir {
    let dir = this.classDirs.get(spec);
    if (!dir) {
      if (this.root.child(spec.dirName)) {
        throw new ProcstatError('EEXIST', `@StatDir ${spec.className}: "${spec.dirName}" already exists at the mount root; ` +
          `give the class another name with @StatDir({ name: '…' })`);
      }
      dir = this.root.add(new ClassDir(spec, this));
      this.classDirs.set(spec, dir);
      this.specs.add(spec);
    }
    return dir;
  }
}
