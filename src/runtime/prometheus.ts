import { ProcstatError } from './errors';
import { Histogram } from './histogram';
import { DirNode, FileNode, Node } from './nodes';
import { Reader } from './reader';
import { Series } from './series';

/**
 * The tree in the Prometheus text format (0.0.4). A path's plain segments make the metric name
 * (`http/8080/routes/GET_users/requests` → `http_routes_requests_total`), instance keys and
 * collection elements become labels named by their directory, in snake_case too (`{http="8080",routes="GET_users"}`).
 * `@Counter` values are counters (`_total`), other numbers, booleans and Dates (in seconds) gauges,
 * series and histograms summaries, strings an `_info` metric with the text as a label. A value's
 * `unit` ends its name before `_total` (`bytes` → `conn_read_bytes_total`) unless the name already
 * ends with it, and its `help` is the `# HELP` text (else `procstat <path>`).
 *
 * Names that collide: different paths can make one name (`a-b`, `a_b` and `aB` all make `a_b`; a
 * file `lat_sum` and a series `lat`, whose summary has a `lat_sum` sample). The first path in tree
 * order keeps the name; every other one is left out and reported once (an EEXIST through the
 * context's 'error' event), so no name ever carries samples of two paths.
 */

export type Labels = Array<[string, string]>;

export interface Sample {
  name: string;
  labels: Labels;
  value: string;
}

export interface Family {
  type: 'counter' | 'gauge' | 'summary';
  help: string;
  samples: Sample[];
}

/** Lower case with `_` before each inner capital: `jobsDone` → `jobs_done`, `RouteHits` → `route_hits`. */
function lowerSnake(text: string): string {
  return text.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

/** snake_case, as Prometheus names go: `jobsDone` → `jobs_done`, `bytes-out` → `bytes_out`. */
function metricName(parts: string[]): string {
  const name = lowerSnake(parts.join('_')).replace(/[^a-z0-9_:]/g, '_');
  return /^[a-zA-Z_:]/.test(name) ? name : `_${name}`;
}

/** snake_case too (promtool flags a label named like the class `RouteHits`); `__` is Prometheus's own. */
function labelName(name: string): string {
  const clean = lowerSnake(name).replace(/[^a-z0-9_]/g, '_');
  return /^[a-z_]/.test(clean) && !clean.startsWith('__') ? clean : `l_${clean}`;
}

/** `name_unit`, unless the name already ends with the unit (`latency_ms` with unit `ms`). */
function withUnit(name: string, unit: string | undefined): string {
  if (!unit) return name;
  const suffix = metricName([unit]).replace(/^_/, '');
  return name === suffix || name.endsWith(`_${suffix}`) ? name : `${name}_${suffix}`;
}

/** A HELP text as the format wants it: backslashes and newlines escaped. */
function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** `name`, or `name_2`, `name_3` … whichever `labels` does not have yet (the format refuses a label twice). */
function freeLabelName(labels: Labels, name: string): string {
  let free = name;
  for (let n = 2; labels.some(([k]) => k === free); n++) free = `${name}_${n}`;
  return free;
}

/** A directory's label, named after it; numbered when a directory above has the same name. */
function withLabel(labels: Labels, name: string, value: string): Labels {
  return [...labels, [freeLabelName(labels, name), value]];
}

/** `labels` with a directory's label named `name` numbered instead: the format's own labels (`quantile`, `value`) keep their names. */
function makingRoomFor(labels: Labels, name: string): Labels {
  const free = freeLabelName(labels, name);
  return labels.map(([k, v]): [string, string] => [k === name ? free : k, v]);
}

function withOwnLabel(labels: Labels, name: string, value: string): Labels {
  return [...makingRoomFor(labels, name), [name, value]];
}

function sample(name: string, labels: Labels, value: string): Sample {
  return { name, labels, value };
}

function sampleLine({ name, labels, value }: Sample): string {
  const text = labels.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',');
  return `${name}${text ? `{${text}}` : ''} ${value}`;
}

function numberText(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? '+Inf' : '-Inf';
  return String(value);
}

/** A value as a sample value, or undefined when it is not a number of any kind. */
function numeric(value: unknown): string | undefined {
  switch (typeof value) {
    case 'number': return numberText(value);
    case 'bigint': return value.toString();
    case 'boolean': return value ? '1' : '0';
    default: return value instanceof Date ? numberText(value.getTime() / 1000) : undefined;
  }
}

export interface ExpositionOptions {
  prefix?: string;
  /** How values are read: the context's one read path, which reports a throwing getter, and a path left out because its name is taken, once. */
  reader: Reader;
}

export class Exposition {
  readonly families = new Map<string, Family>();
  /** Every sample name in use, with the path (and kind) that made it. */
  private readonly owners = new Map<string, string>();
  private readonly prefix: string;

  constructor(private readonly options: ExpositionOptions) {
    this.prefix = options.prefix ?? '';
  }

  private add(name: string, type: Family['type'], help: string, line: Sample): void {
    let family = this.families.get(name);
    if (!family) this.families.set(name, (family = { type, help, samples: [] }));
    if (family.type === type) family.samples.push(line);
  }

  /**
   * Takes the sample names a path needs; false (and the path reported) when another path, or the
   * same path as another kind, already has one of them.
   */
  private claim(path: string, kind: string, names: string[]): boolean {
    const owner = `${path} (${kind})`;
    const taken = names.find((name) => (this.owners.get(name) ?? owner) !== owner);
    if (taken === undefined) {
      for (const name of names) this.owners.set(name, owner);
      return true;
    }
    this.options.reader.reportOnce(`prometheus\0${owner}\0${taken}`, new ProcstatError('EEXIST',
      `procstat: ${path} (${kind}) is left out of the Prometheus view: the name ${taken} is already ${this.owners.get(taken)}'s`));
    return false;
  }

  private file(file: FileNode, parts: string[], labels: Labels): void {
    const { value, metric, unit } = file.behavior;
    if (!value || file.behavior.aggregate) return;
    let raw: unknown;
    try {
      raw = this.options.reader.readFile(file, 'value');
    } catch {
      return; // a throwing getter is EIO on the mount, reported once by the reader; here it is left out
    }
    const counter = metric === 'counter';
    const plain = metricName([this.prefix, ...parts].filter(Boolean));
    // A counter's `_total` goes after its unit, also when its file is already named `…_total`.
    const base = withUnit(counter ? plain.replace(/_total$/, '') : plain, unit);
    const path = parts.join('/');
    const help = file.behavior.help === undefined ? undefined : escapeHelp(file.behavior.help);
    const number = numeric(raw);
    if (number !== undefined) {
      const name = counter ? `${base}_total` : base;
      const type = counter ? 'counter' : 'gauge';
      if (this.claim(path, type, [name])) this.add(name, type, help ?? `procstat ${path}`, sample(name, labels, number));
    } else if (typeof raw === 'string') {
      const name = `${base}_info`;
      if (this.claim(path, 'info', [name])) {
        this.add(name, 'gauge', help ?? `procstat ${path} (text in the value label)`, sample(name, withOwnLabel(labels, 'value', raw), '1'));
      }
    }
  }

  private statistics(stats: Series | Histogram, parts: string[], labels: Labels): void {
    const name = metricName([this.prefix, ...parts].filter(Boolean));
    const gauges = stats instanceof Series ? ['min', 'max', 'last', 'stddev'] as const : [];
    const kind = stats instanceof Series ? 'series' : 'histogram';
    if (!this.claim(parts.join('/'), kind, [name, `${name}_sum`, `${name}_count`, ...gauges.map((g) => `${name}_${g}`)])) return;
    stats.refresh();
    const help = `procstat ${parts.join('/')}`;
    labels = makingRoomFor(labels, 'quantile'); // every sample of the family labelled alike, quantiles or not
    if (stats instanceof Histogram) {
      for (const fraction of stats.fractions) {
        this.add(name, 'summary', help, sample(name, withOwnLabel(labels, 'quantile', String(fraction)), numberText(stats.percentile(fraction))));
      }
    }
    this.add(name, 'summary', help, sample(`${name}_sum`, labels, numberText(stats.sum)));
    this.add(name, 'summary', help, sample(`${name}_count`, labels, String(stats.count)));
    if (stats instanceof Series) {
      for (const suffix of gauges) {
        this.add(`${name}_${suffix}`, 'gauge', `${help}/${suffix}`, sample(`${name}_${suffix}`, labels, numberText(stats[suffix])));
      }
    }
  }

  visit(node: Node, parts: string[], labels: Labels): void {
    if (node instanceof FileNode) return this.file(node, parts, labels);
    const dir = node as DirNode;
    if (dir.statistics) return this.statistics(dir.statistics, parts, labels);
    for (const child of dir.children()) {
      if (dir.childrenAreKeys) this.visit(child, parts, withLabel(labels, labelName(dir.name), child.name));
      else this.visit(child, [...parts, child.name], labels);
    }
  }

  text(): string {
    const out: string[] = [];
    for (const [name, family] of this.families) {
      out.push(`# HELP ${name} ${family.help}`, `# TYPE ${name} ${family.type}`, ...family.samples.map(sampleLine));
    }
    return out.length ? `${out.join('\n')}\n` : '';
  }
}

/** The metric families of the tree below `root`. */
export function collect(root: DirNode, options: ExpositionOptions): Exposition {
  const view = new Exposition(options);
  view.visit(root, [], []);
  return view;
}
