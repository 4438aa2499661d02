import type { Procstat } from '../procstat';
import { ClassOptions, ClassSpec } from '../runtime/class-spec';
import { ProcstatError } from '../runtime/errors';
import { getDefaultContext } from '../runtime/default-context';
import { defineSpec, hasOwnFields, isTc39Context, legacyFieldsOf, tc39FieldsOf } from './metadata';

/** The registering subclasses made by @StatDir, to find an instance's most derived one. */
const wrappers = new WeakSet<Function>();

function nearestWrapper(cls: Function): Function | undefined {
  for (let c: any = cls; c && c !== Function.prototype; c = Object.getPrototypeOf(c)) if (wrappers.has(c)) return c;
  return undefined;
}

/** Subclasses already checked for decorated fields of their own. */
const checkedSubclasses = new WeakSet<Function>();

/**
 * A subclass without @StatDir registers as its @StatDir parent, whose spec does not have the
 * subclass's own decorated fields: warned once per class, naming the fix.
 */
function warnOfUndecoratedSubclass(cls: Function, wrapper: Function): void {
  for (let c: any = cls; c !== wrapper; c = Object.getPrototypeOf(c)) {
    if (checkedSubclasses.has(c)) continue;
    checkedSubclasses.add(c);
    if (hasOwnFields(c)) {
      process.emitWarning(`${c.name} has decorated fields but no @StatDir of its own, so they are not shown: its instances ` +
        `are shown as ${wrapper.name} instances with ${wrapper.name}'s fields; add @StatDir() to ${c.name}`, 'ProcstatWarning');
    }
  }
}

export interface StatDirOptions<T = any> extends ClassOptions<T> {
  /** The context its instances register with (`new Procstat()`); default the global `procstat`. */
  context?: Procstat;
}

/**
 * A class decorator, legacy or TC39, for classes whose instances are `T`: `key: 'port'` makes `T`
 * `{ port: … }`, `key: (s: HttpServer) => s.port` makes it `HttpServer`, so a key the class does not
 * have is a compile error.
 */
export type StatDirDecorator<T> = <C extends abstract new (...args: any[]) => T>(cls: C, context?: ClassDecoratorContext<C>) => C;

/**
 * Makes every instance of the class a directory of its context (`options.context`, default the
 * global `procstat`), from the moment its constructor finishes. Works as a legacy and as a TC39
 * class decorator.
 */
export function StatDir<T = any>(options: StatDirOptions<T> = {}): StatDirDecorator<T> {
  return ((cls: any, context?: unknown) => {
    const className: string = cls.name;
    if (options.context !== undefined && typeof options.context?.registry?.register !== 'function') {
      throw new ProcstatError('EINVAL', `@StatDir on ${className}: context must be a Procstat (new Procstat() or procstat), ` +
        `not ${options.context === null ? 'null' : typeof options.context}; leave it out to register with the global procstat`);
    }
    if (wrappers.has(cls)) {
      throw new ProcstatError('EINVAL', `@StatDir on ${className}: the class is already a @StatDir class; apply @StatDir once ` +
        '(a subclass may have its own)');
    }
    const fields = isTc39Context(context) ? tc39FieldsOf(context.metadata) : legacyFieldsOf(cls);
    let spec: ClassSpec;
    const Registering = {
      // A subclass keeps the class's name; it registers the instance once, under its most derived @StatDir class.
      [className]: class extends cls {
        constructor(...args: any[]) {
          super(...args);
          // A constructor may return another object: one not of this class is shown where it belongs, if anywhere.
          if (!(this instanceof Registering)) return;
          if (new.target !== Registering && nearestWrapper(new.target) !== Registering) return;
          if (new.target !== Registering) warnOfUndecoratedSubclass(new.target, Registering);
          (options.context ?? getDefaultContext()).registry.register(this, spec);
        }
      },
    }[className];
    wrappers.add(Registering);
    spec = defineSpec(Registering, className, options, fields);
    return Registering;
  }) as StatDirDecorator<T>;
}
