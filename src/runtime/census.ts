import type { ClassSpec } from './class-spec';
import { valueFile } from './items';
import { DirNode } from './nodes';

/** One class's counts: each changes by one at an event, so a read never walks the instances. */
interface Counts {
  created: number;
  released: number;
  collected: number;
}

/** `procstat/classes/`: its children are classes, which the Prometheus view makes a label. */
class ClassesDir extends DirNode {
  override get childrenAreKeys(): boolean {
    return true;
  }
}

/**
 * How many instances of each `@StatDir` class were made, released and collected, and how many are
 * still in memory (`live`: made and not yet collected, released ones included until the garbage
 * collector takes them), in `procstat/classes/<class>/`. A leak shows as `live` growing while
 * `collected` does not.
 */
export class Census {
  private readonly counts = new Map<ClassSpec, Counts>();
  private classes: DirNode | undefined;

  constructor(private readonly root: DirNode) {}

  created(spec: ClassSpec): void {
    this.of(spec).created++;
  }

  released(spec: ClassSpec): void {
    this.of(spec).released++;
  }

  collected(spec: ClassSpec): void {
    this.of(spec).collected++;
  }

  private of(spec: ClassSpec): Counts {
    let counts = this.counts.get(spec);
    if (!counts) {
      const made: Counts = (counts = { created: 0, released: 0, collected: 0 });
      this.counts.set(spec, made);
      const dir = this.classesDir().add(new DirNode(spec.dirName));
      dir.add(valueFile('live', () => made.created - made.collected, { metric: 'gauge', help: 'instances made and not yet collected' }));
      dir.add(valueFile('created', () => made.created, { metric: 'counter', help: 'instances made' }));
      dir.add(valueFile('released', () => made.released, { metric: 'counter', help: 'instances released with release()' }));
      dir.add(valueFile('collected', () => made.collected, { metric: 'counter', help: 'instances taken by the garbage collector' }));
    }
    return counts;
  }

  /** `procstat/classes`, made with the first class (a context without classes shows none). */
  private classesDir(): DirNode {
    if (!this.classes || this.classes.removed) {
      let status = this.root.child('procstat');
      if (!(status instanceof DirNode)) status = this.root.add(new DirNode('procstat'));
      this.classes = (status as DirNode).add(new ClassesDir('classes'));
    }
    return this.classes;
  }
}
