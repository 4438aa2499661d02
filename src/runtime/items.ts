import { ProcstatError } from './errors';
import { formatDecimal, formatterFor, ValueFormat } from './format';
import { Histogram, percentileName } from './histogram';
import { DirNode, FileBehavior, FileNode, MetricKind } from './nodes';
import { inferType, MAX_WRITE_BYTES, ParameterType, parseDate, parseValue } from './parse';
import { synchronous } from './read';
import { Series } from './series';
import { StartEnd } from './start-end';

/** The items of the tree, files and directories, as the imperative API and the decorators make them. */

/** How a value is shown and what it means (help and unit: see FileBehavior). */
export interface ValueOptions {
  format?: ValueFormat;
  /** `'counter'` for a value that only goes up (the Prometheus view adds `_total`); default gauge. */
  metric?: MetricKind;
  help?: string;
  unit?: string;
}

export function valueFile(name: string, get: () => unknown, options: ValueOptions = {}): FileNode {
  const print = formatterFor(options.format);
  const value = () => synchronous(get());
  return new FileNode(name, { read: () => `${print(value())}\n`, value, metric: options.metric, help: options.help, unit: options.unit });
}

export interface ParameterOptions<T = any> {
  /** Current value; without it the file is a write-only control. */
  get?: () => T;
  /** Receives the parsed, validated value. */
  set: (value: T) => void;
  /** How writes are parsed; default inferred from `get()` (`'string'` for write-only controls). */
  type?: ParameterType;
  min?: number | bigint;
  max?: number | bigint;
  /** Return false (or a message) to refuse a value with EINVAL. */
  validate?: (value: T) => boolean | string;
  format?: ValueFormat;
  help?: string;
  unit?: string;
}

function checkRange(value: unknown, options: ParameterOptions): void {
  if (typeof value !== 'number' && typeof value !== 'bigint') return;
  if (options.min !== undefined && value < options.min) {
    throw new ProcstatError('EINVAL', `${value} is below the minimum ${options.min}`);
  }
  if (options.max !== undefined && value > options.max) {
    throw new ProcstatError('EINVAL', `${value} is above the maximum ${options.max}`);
  }
}

/** A write handler: parse, check range, validate, then `set`; any failure is EINVAL and changes nothing. */
export function parameterWriter(options: ParameterOptions): (text: string) => void {
  return (text) => {
    if (Buffer.byteLength(text) > MAX_WRITE_BYTES) {
      throw new ProcstatError('EINVAL', `a write of more than ${MAX_WRITE_BYTES} bytes is refused`);
    }
    const current = options.type === undefined && options.get ? options.get() : undefined;
    const value = current instanceof Date ? parseDate(text) : parseValue(text, options.type ?? (options.get ? inferType(current) : 'string'));
    checkRange(value, options);
    const verdict = options.validate ? options.validate(value) : true;
    if (verdict !== true) {
      throw new ProcstatError('EINVAL', typeof verdict === 'string' ? verdict : `${formatDecimal(value)} was refused by validate()`);
    }
    try {
      options.set(value);
    } catch (err) {
      throw new ProcstatError('EINVAL', `set(${formatDecimal(value)}) threw: ${(err as Error)?.message ?? err}`, { cause: err });
    }
  };
}

export function parameterFile(name: string, options: ParameterOptions): FileNode {
  const live = options.get;
  const get = live && (() => synchronous(live()));
  const behavior: FileBehavior = { write: parameterWriter({ ...options, get }), help: options.help, unit: options.unit };
  if (get) {
    const print = formatterFor(options.format);
    behavior.read = () => `${print(get())}\n`;
    behavior.value = get;
  }
  return new FileNode(name, behavior);
}

/** A write-only file that runs `action` when `1` is written (series and histogram `reset`). */
function resetFile(action: () => void): FileNode {
  return parameterFile('reset', {
    type: 'boolean',
    set: (yes: boolean) => { if (yes) action(); },
  });
}

/**
 * A series or histogram directory: a file per figure, each read after a due periodic reset is
 * applied, then `more` files, then `reset reset_interval_sec get_reset_interval_sec`.
 */
function statisticsDirectory<S extends Series | Histogram>(name: string, stats: S, figures: ReadonlyArray<keyof S & string>,
  more: FileNode[] = []): DirNode {
  const dir = new DirNode(name);
  dir.statistics = stats;
  for (const figure of figures) dir.add(valueFile(figure, () => { stats.refresh(); return stats[figure]; }));
  for (const file of more) dir.add(file);
  dir.add(resetFile(() => stats.reset()));
  dir.add(parameterFile('reset_interval_sec', {
    type: 'number', min: 0, set: (seconds: number) => { stats.resetInterval.seconds = seconds; },
  }));
  dir.add(valueFile('get_reset_interval_sec', () => stats.resetInterval.seconds));
  return dir;
}

/** `sum count min max last avg mean stddev` and the reset files. */
export function seriesDirectory(name: string, series: Series): DirNode {
  return statisticsDirectory(name, series, ['sum', 'count', 'min', 'max', 'last', 'avg', 'mean', 'stddev']);
}

/** `sum count last avg`, one file per percentile (`50`, `99.99`), and the reset files. */
export function histogramDirectory(name: string, histogram: Histogram): DirNode {
  const percentiles = histogram.fractions.map((fraction) => valueFile(percentileName(fraction), () => histogram.percentile(fraction)));
  return statisticsDirectory(name, histogram, ['sum', 'count', 'last', 'avg'], percentiles);
}

/** `start` and `end`: each a function called at every read, or a value, read from this object at every read. */
export interface StartEndSource {
  start: unknown;
  end: unknown;
}

export function startEndDirectory(name: string, source: StartEndSource | StartEnd): DirNode {
  const side = (key: 'start' | 'end') => {
    const value = source[key];
    return typeof value === 'function' ? value as () => unknown : () => source[key];
  };
  const dir = new DirNode(name);
  dir.add(valueFile('start', side('start')));
  dir.add(valueFile('end', side('end')));
  return dir;
}
