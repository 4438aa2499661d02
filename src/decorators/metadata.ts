import 'reflect-metadata';
import { ClassOptions, ClassSpec, defineClassSpec, FieldSpec } from '../runtime/class-spec';
import { ProcstatError } from '../runtime/errors';
import { checkFileOptions } from '../runtime/file-options';
import { checkName } from '../runtime/names';
import { ParameterType } from '../runtime/parse';

/**
 * The one module that reads and writes decorator metadata. Field decorators record a FieldSpec;
 * `@StatDir` turns what its class (and its parents) recorded into the ClassSpec the runtime uses.
 * Legacy decorators (experimentalDecorators) record per class; TC39 decorators record in
 * `context.metadata`, which TypeScript chains from parent class to subclass.
 */

// TC39 decorator metadata needs Symbol.metadata, which Node 20 does not define yet.
(Symbol as { metadata?: symbol }).metadata ??= Symbol.for('Symbol.metadata');

const FIELDS = Symbol('procstat.fields');
/** Legacy mode: fields recorded per class (constructor). */
const legacyFields = new WeakMap<Function, FieldSpec[]>();

/** TC39 decorator contexts look like this; legacy decorators get a property key instead. */
export interface Tc39Context {
  kind: string;
  name: string | symbol;
  static?: boolean;
  private?: boolean;
  metadata?: Record<symbol, unknown>;
}

export function isTc39Context(arg: unknown): arg is Tc39Context {
  return typeof arg === 'object' && arg !== null && 'kind' in arg;
}

/** `design:type` from emitDecoratorMetadata, as a parameter type hint when the value does not tell. */
export function designType(prototype: object, key: string | symbol): ParameterType | undefined {
  const type = Reflect.getMetadata?.('design:type', prototype, key);
  return new Map<unknown, ParameterType>([[Number, 'number'], [Boolean, 'boolean'], [String, 'string'], [BigInt, 'bigint']]).get(type);
}

/** Classes whose fields @StatDir has read (the decorated class and the one it returned): a field decorator comes too late. */
const fieldsRead = new WeakSet<Function>();

/** How a field's decorator is written: `@Counter` for kind 'counter'. */
function decoratorName(kind: FieldSpec['kind']): string {
  return `@${kind[0].toUpperCase()}${kind.slice(1)}`;
}

export function recordLegacyField(cls: Function, field: FieldSpec): void {
  if (fieldsRead.has(cls)) {
    // Only by hand: TypeScript applies field decorators before the class's.
    throw new ProcstatError('EINVAL', `${decoratorName(field.kind)} on ${cls.name}.${String(field.key)}: applied after @StatDir, ` +
      `which has read the class's fields already, so it would never show; apply field decorators first, ` +
      `as TypeScript does (by hand: ${decoratorName(field.kind).slice(1)}()(${cls.name}.prototype, '${String(field.key)}') before StatDir()(${cls.name}))`);
  }
  const own = legacyFields.get(cls) ?? [];
  own.push(field);
  legacyFields.set(cls, own);
}

export function recordTc39Field(context: Tc39Context, field: FieldSpec): void {
  const metadata = context.metadata;
  if (!metadata) throw new ProcstatError('EINVAL', `@${field.kind} on ${String(field.name)}: this compiler gives no decorator metadata; use TypeScript ≥ 5.2`);
  if (!Object.prototype.hasOwnProperty.call(metadata, FIELDS)) metadata[FIELDS] = [];
  (metadata[FIELDS] as FieldSpec[]).push(field);
}

/**
 * Fields from the root class down to `cls`; a subclass's field replaces its parent's of the same
 * property. Two of one file name and different properties are both kept, for defineSpec to refuse.
 */
function mergeFields(ownListsFromRoot: FieldSpec[][]): FieldSpec[] {
  const byName = new Map<string, FieldSpec[]>();
  for (const list of ownListsFromRoot) {
    const own = new Map<string, FieldSpec[]>();
    for (const field of list) own.set(field.name, [...(own.get(field.name) ?? []), field]);
    for (const [name, fields] of own) {
      const inherited = (byName.get(name) ?? []).filter((parent) => !fields.some((field) => field.key === parent.key));
      byName.set(name, [...inherited, ...fields]);
    }
  }
  return [...byName.values()].flat();
}

export function legacyFieldsOf(cls: Function): FieldSpec[] {
  const lists: FieldSpec[][] = [];
  for (let c: any = cls; c && c !== Function.prototype; c = Object.getPrototypeOf(c)) lists.unshift(legacyFields.get(c) ?? []);
  return mergeFields(lists);
}

/** True when `cls` itself has decorated fields (not only inherited ones). */
export function hasOwnFields(cls: Function): boolean {
  if (legacyFields.has(cls)) return true;
  // A class with decorators has its own metadata object; one without inherits its parent's.
  const key = (Symbol as { metadata?: symbol }).metadata!;
  const metadata = Object.prototype.hasOwnProperty.call(cls, key) ? (cls as any)[key] : undefined;
  return metadata != null && Object.prototype.hasOwnProperty.call(metadata, FIELDS);
}

export function tc39FieldsOf(metadata: Record<symbol, unknown> | undefined): FieldSpec[] {
  const lists: FieldSpec[][] = [];
  for (let m: any = metadata; m; m = Object.getPrototypeOf(m)) {
    if (Object.prototype.hasOwnProperty.call(m, FIELDS)) lists.unshift(m[FIELDS]);
  }
  return mergeFields(lists);
}

/** Checks a class's decorator arguments when the class is defined; errors name the class and field. */
export function defineSpec(cls: Function, className: string, options: ClassOptions, fields: FieldSpec[]): ClassSpec {
  const dirName = checkName(options.name ?? className, `@StatDir on class ${className}`);
  if (dirName === 'procstat') {
    throw new ProcstatError('EINVAL', `@StatDir on class ${className}: "procstat" is reserved at the mount root for the mount's own status; ` +
      `give the class another name with @StatDir({ name: '…' })`);
  }
  const byName = new Map<string, FieldSpec>();
  const dataKeys: (string | symbol)[] = [];
  for (const field of fields) {
    const where = `${decoratorName(field.kind)} on ${className}.${String(field.key)}`;
    checkName(field.name, where);
    checkFileOptions(field, where);
    if (byName.has(field.name)) {
      throw new ProcstatError('EINVAL', `${where}: the file name "${field.name}" is already used by ${className}.${String(byName.get(field.name)!.key)}; pass another name`);
    }
    const accessor = findDescriptor(cls.prototype, field.key);
    if (field.kind === 'parameter' && accessor?.get && !accessor.set) {
      throw new ProcstatError('EINVAL', `${where}: a getter without a setter cannot be a parameter; add a setter or use @Gauge`);
    }
    if (!accessor?.get) dataKeys.push(field.key);
    byName.set(field.name, field);
  }
  const statDataKeys = fields.filter((field) => field.kind === 'stat' && dataKeys.includes(field.key)).map((field) => field.key);
  const spec: ClassSpec = { className, dirName, options, fields, byName, dataKeys, statDataKeys };
  defineClassSpec(cls, spec);
  fieldsRead.add(cls).add(Object.getPrototypeOf(cls));
  return spec;
}

function findDescriptor(prototype: object | null, key: string | symbol): PropertyDescriptor | undefined {
  for (let p = prototype; p; p = Object.getPrototypeOf(p)) {
    const descriptor = Object.getOwnPropertyDescriptor(p, key);
    if (descriptor) return descriptor;
  }
  return undefined;
}
