import { FieldSpec } from '../runtime/class-spec';
import { ProcstatError } from '../runtime/errors';
import { ValueFormat } from '../runtime/format';
import { ParameterType } from '../runtime/parse';
import { designType, isTc39Context, recordLegacyField, recordTc39Field } from './metadata';

export interface StatOptions {
  /** File name; default the property name. */
  name?: string;
  format?: ValueFormat;
  /** What the value means: `# HELP` in the Prometheus view, the file's user.procstat.help attribute. */
  help?: string;
  /** Its unit, e.g. `seconds` or `bytes`: added to the Prometheus name, the file's user.procstat.unit attribute. */
  unit?: string;
}

export interface ParameterDecoratorOptions<T = any> extends StatOptions {
  type?: ParameterType;
  min?: number | bigint;
  max?: number | bigint;
  validate?: (value: T) => boolean | string;
}

/** What a TC39 decorator context of a member says when it is a public instance member. */
interface InstanceMember {
  readonly static: false;
  readonly private: false;
}

/** `T`, unless it is a function: a static member's target is the class, a method's value a function. */
type NotAFunction<T> = T extends Function ? never : T;

/** `K`, unless `P[K]` is visibly a function (a method); a key `P` does not show (private) passes. */
type ValueKey<P, K> = K extends keyof P ? (P[K] extends Function ? never : K) : K;

/**
 * Works as a TC39 decorator and as a legacy (experimentalDecorators) one, on an instance field, getter
 * or `accessor`. On a method, a static member, a `#private` member or a member that holds a function
 * it is a compile error, as it would be an error (or a file holding the function's source text) at
 * run time.
 */
export interface FieldDecorator {
  <V>(value: undefined, context: ClassFieldDecoratorContext<any, NotAFunction<V>> & InstanceMember): void;
  <V>(value: (this: any) => V, context: ClassGetterDecoratorContext<any, NotAFunction<V>> & InstanceMember): void;
  <V>(value: ClassAccessorDecoratorTarget<any, V>, context: ClassAccessorDecoratorContext<any, NotAFunction<V>> & InstanceMember): void;
  <P extends object, K extends string | symbol>(prototype: NotAFunction<P>, key: ValueKey<P, K>): void;
  <P extends object, K extends string | symbol, V>(prototype: NotAFunction<P>, key: ValueKey<P, K>, descriptor: TypedPropertyDescriptor<NotAFunction<V>>): void;
}

/**
 * The one decorator factory: `@Stat`, `@Counter`, `@Gauge` and `@Parameter` differ only in the kind
 * and writability they record. It records a spec and returns nothing: fields stay plain data
 * properties and getters stay as written, so the hot path is untouched.
 */
function statField(kind: FieldSpec['kind'], nameOrOptions?: string | ParameterDecoratorOptions): FieldDecorator {
  const options: ParameterDecoratorOptions = typeof nameOrOptions === 'string' ? { name: nameOrOptions } : nameOrOptions ?? {};
  return ((target: any, context: any) => {
    const tc39 = isTc39Context(context);
    const key: string | symbol = tc39 ? context.name : context;
    if (tc39 && (context.private || context.static)) {
      throw new ProcstatError('EINVAL', `@${kind} on ${String(key)}: private and static members cannot be exposed; use a public instance member`);
    }
    const field: FieldSpec = {
      key,
      name: options.name ?? String(key),
      kind,
      type: options.type,
      typeHint: tc39 ? undefined : designType(target, key),
      min: options.min,
      max: options.max,
      validate: options.validate,
      format: options.format,
      help: options.help,
      unit: options.unit,
    };
    if (tc39) recordTc39Field(context, field);
    else recordLegacyField(target.constructor, field);
  }) as FieldDecorator;
}

/** A value, statistics object (Series, Histogram, StartEnd) or nested `@StatDir` object. */
export function Stat(nameOrOptions?: string | StatOptions): FieldDecorator {
  return statField('stat', nameOrOptions);
}

/** A monotonically increasing count (`counter` in the Prometheus view). */
export function Counter(nameOrOptions?: string | StatOptions): FieldDecorator {
  return statField('counter', nameOrOptions);
}

/** A value that goes up and down (`gauge` in the Prometheus view). */
export function Gauge(nameOrOptions?: string | StatOptions): FieldDecorator {
  return statField('gauge', nameOrOptions);
}

/** A writable value: `echo 8 > …/concurrency` parses, validates and assigns it. */
export function Parameter<T = any>(nameOrOptions?: string | ParameterDecoratorOptions<T>): FieldDecorator {
  return statField('parameter', nameOrOptions);
}
