// The public API. Procstat is a Node EventEmitter and metricsHandler() a node:http handler, so these
// types need Node's: @types/node is a dependency, and this reference brings it into an app's program
// even when the app's tsconfig lists no "types".
/// <reference types="node" preserve="true" />
export { Procstat, procstat } from './procstat';
export { ProcstatError, ProcstatErrorCode } from './runtime/errors';
export { Series } from './runtime/series';
export { Histogram } from './runtime/histogram';
export { StartEnd } from './runtime/start-end';
export { DirNode, FileNode } from './runtime/nodes';
export type { Parent, Item } from './runtime/tree';
export type { ParameterOptions, StartEndSource, ValueOptions } from './runtime/items';
export type { ParameterType } from './runtime/parse';
export type { ValueFormat } from './runtime/format';
export type { MountOptions } from './mount/options';
export { StatDir } from './decorators/stat-dir';
export type { StatDirDecorator } from './decorators/stat-dir';
export { Stat, Counter, Gauge, Parameter } from './decorators/fields';
export type { StatOptions, ParameterDecoratorOptions, FieldDecorator } from './decorators/fields';
export type { StatDirOptions } from './decorators/stat-dir';
export { registerWithPromClient } from './prom-client';
export type { PromClientRegistry } from './prom-client';
