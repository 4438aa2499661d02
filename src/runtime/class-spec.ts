import { ValueFormat } from './format';
import type { FileKind } from './nodes';
import { ParameterType } from './parse';

/** What a decorator recorded for one field or getter: the file it becomes. */
export interface FieldSpec {
  /** The property read (and, for parameters, written) on the instance. */
  readonly key: string | symbol;
  /** The file or directory name. */
  readonly name: string;
  /** How it was declared: `'parameter'` is writable; `'counter'` and `'gauge'` matter to the Prometheus view. */
  readonly kind: FileKind;
  readonly type?: ParameterType;
  /** The declared type (emitDecoratorMetadata), used only while the value itself does not tell (undefined). */
  readonly typeHint?: ParameterType;
  readonly min?: number | bigint;
  readonly max?: number | bigint;
  readonly validate?: (value: any) => boolean | string;
  readonly format?: ValueFormat;
  readonly help?: string;
  readonly unit?: string;
}

/** How a `@StatDir` class is shown (the decorator's options, but for the context it names). */
export interface ClassOptions<T = any> {
  /** The class's directory name; default the class name. */
  name?: string;
  /** An instance's directory name: a property name or a function of the instance; default 0, 1, 2 … */
  key?: keyof T | ((instance: T) => string | number);
  /** One instance, no instance level: `<mount>/<name>/<field>`. */
  singleton?: boolean;
}

/** A `@StatDir` class as the runtime sees it: shared by all its instances. */
export interface ClassSpec {
  readonly className: string;
  readonly dirName: string;
  readonly options: ClassOptions;
  readonly fields: readonly FieldSpec[];
  /** fields by file name, for lookups. */
  readonly byName: ReadonlyMap<string, FieldSpec>;
  /** Keys of the fields that are data properties (not getters): the ones read at registration. */
  readonly dataKeys: readonly (string | symbol)[];
  /** Of those, the `@Stat` ones: they may be given a `@StatDir` object or a collection later (`peer = null` now). */
  readonly statDataKeys: readonly (string | symbol)[];
}

const specs = new WeakMap<Function, ClassSpec>();

export function defineClassSpec(cls: Function, spec: ClassSpec): void {
  specs.set(cls, spec);
}

/** The spec of a `@StatDir` object's class (the nearest decorated class), or undefined. */
export function specOfInstance(obj: unknown): ClassSpec | undefined {
  if (typeof obj !== 'object' || obj === null) return undefined;
  for (let proto = Object.getPrototypeOf(obj); proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    const spec = specs.get(proto.constructor);
    if (spec) return spec;
  }
  return undefined;
}
