import { Histogram } from './histogram';
import { DirNode, FileNode, Node } from './nodes';
import { Series } from './series';

/**
 * The tree in the Prometheus text format (0.0.4). A path's plain segments make the metric name
 * (`http/8080/routes/GET_users/requests` → `http_routes_requests_total`), instance keys and
 * collection elements become labels named by their directory (`{http="8080",routes="GET_users"}`).
 * `@Counter` values are counters (`_total`), other numbers, booleans and Dates (in seconds) gauges,
 * series and histograms summaries, strings an `_info` metric with the text as a label.
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

/** snake_case, as Prometheus names go: `jobsDone` → `jobs_done`, `bytes-out` → `bytes_out`. */
function metricName(parts: string[]): string {
  const name = parts.join('_').replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase().replace(/[^a-z0-9_:]/g, '_');
  return /^[a-zA-Z_:]/.test(name) ? name : `_${name}`;
}

function labelName(name: string): string {
  const clean = name.replace(/[^a-zA-Z0-9_]/g, '_');
  return /^[a-zA-Z_]/.test(clean) && !clean.startsWith('__') ? clean : `l_${clean}`;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
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

export class Exposition {
  readonly families = new Map<string, Family>();

  constructor(private readonly prefix: string) {}

  private add(name: string, type: Family['type'], help: string, line: Sample): void {
    let family = this.families.get(name);
    if (!family) this.families.set(name, (family = { type, help, samples: [] }));
    if (family.type === type) family.samples.push(line);
  }

  private file(file: FileNode, parts: string[], labels: Labels): void {
    const { value, metric } = file.behavior;
    if (!value || file.behavior.aggregate) return;
    let raw: unknown;
    try {
      raw = value();
    } catch {
      return; // a throwing getter is EIO on the mount; here it is left out
    }
    const base = metricName([this.prefix, ...parts].filter(Boolean));
    const path = parts.join('/');
    const number = numeric(raw);
    if (number !== undefined) {
      const counter = metric === 'counter';
      const name = counter && !base.endsWith('_total') ? `${base}_total` : base;
      this.add(name, counter ? 'counter' : 'gauge', `procstat ${path}`, sample(name, labels, number));
    } else if (typeof raw === 'string') {
      const name = `${base}_info`;
      this.add(name, 'gauge', `procstat ${path} (text in the value label)`, sample(name, [...labels, ['value', raw]], '1'));
    }
  }

  private statistics(stats: Series | Histogram, parts: string[], labels: Labels): void {
    stats.refresh();
    const name = metricName([this.prefix, ...parts].filter(Boolean));
    const help = `procstat ${parts.join('/')}`;
    if (stats instanceof Histogram) {
      for (const fraction of stats.fractions) {
        this.add(name, 'summary', help, sample(name, [...labels, ['quantile', String(fraction)]], numberText(stats.percentile(fraction))));
      }
    }
    this.add(name, 'summary', help, sample(`${name}_sum`, labels, numberText(stats.sum)));
    this.add(name, 'summary', help, sample(`${name}_count`, labels, String(stats.count)));
    if (stats instanceof Series) {
      for (const [suffix, value] of [['min', stats.min], ['max', stats.max], ['last', stats.last], ['stddev', stats.stddev]] as const) {
        this.add(`${name}_${suffix}`, 'gauge', `${help}/${suffix}`, sample(`${name}_${suffix}`, labels, numberText(value)));
      }
    }
  }

  visit(node: Node, parts: string[], labels: Labels): void {
    if (node instanceof FileNode) return this.file(node, parts, labels);
    const dir = node as DirNode;
    if (dir.statistics) return this.statistics(dir.statistics, parts, labels);
    for (const child of dir.children()) {
      if (dir.keyed) this.visit(child, parts, [...labels, [labelName(dir.name), child.name]]);
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
export function collect(root: DirNode, prefix = ''): Exposition {
  const view = new Exposition(prefix);
  view.visit(root, [], []);
  return view;
}

/** The whole tree below `root` in the Prometheus text format. */
export function exposition(root: DirNode, prefix = ''): string {
  return collect(root, prefix).text();
}
