// Mistakes that fail at run time and must not compile: spec/package.spec.ts compiles this file
// against the packed package with `strict: true` in both decorator modes. Each `@ts-expect-error`
// must meet an error, else tsc reports the unused directive and the spec fails.
import { Counter, Gauge, procstat, Series, StatDir } from 'procstat';

@StatDir({ key: (w: Worker) => w.id })
class Worker {
  @Counter() jobsDone = 0;
  constructor(readonly id: string) {}
}

@StatDir()
export class Members {
  @Gauge() fine = 1;
  // @ts-expect-error a method is not a value (the file would hold the function's source text)
  @Counter() reset(): void {}
  // @ts-expect-error a static field belongs to no instance directory
  @Gauge() static total = 0;
  // @ts-expect-error nor does a static getter
  @Gauge() static get version(): number { return 1; }
  // @ts-expect-error a #private field cannot be read from outside the class
  @Counter() #hidden = 0;
  // @ts-expect-error a field holding a function (the file would hold its source text)
  @Gauge() handler = () => this.#hidden;
}

// @ts-expect-error a key the class does not have
@StatDir({ key: 'nope' })
export class WrongKey {
  @Counter() port = 1;
}

// @ts-expect-error a key function written for another class
@StatDir({ key: (w: Worker) => w.id })
export class OtherKey {
  @Counter() id = 1;
}

// @ts-expect-error the method is addPoint
new Series().add(1);

// @ts-expect-error a directory needs a name
procstat.createDirectory(null);

// reflect-metadata's global types stay out of the app's program.
// @ts-expect-error Reflect.getMetadata is not declared here
Reflect.getMetadata('design:type', Worker.prototype, 'id');
