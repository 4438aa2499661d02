import { Exposition } from './runtime/prometheus';
import type { Procstat } from './procstat';

/** The part of a prom-client `Registry` this adapter uses (prom-client is an optional peer). */
export interface PromClientRegistry {
  registerMetric(metric: any): void;
  getSingleMetric(name: string): unknown;
}

/**
 * Adds a context's tree to an existing prom-client Registry: each metric family of `ctx.metrics()`
 * becomes a registry metric read at scrape time. Families that appear later (new classes, fields)
 * are added on the next scrape and show from the one after.
 */
export function registerWithPromClient(ctx: Procstat, registry: PromClientRegistry, options: { prefix?: string } = {}): void {
  let snapshot: Exposition | null = null;
  // One walk of the tree per scrape: prom-client calls every family's get() in one synchronous loop,
  // which shares it; the next scrape, even one awaited right after, walks again.
  const current = (): Exposition => {
    if (!snapshot) {
      snapshot = ctx.collectMetrics(options);
      queueMicrotask(() => { snapshot = null; });
    }
    return snapshot;
  };
  const register = (name: string) => {
    if (registry.getSingleMetric(name)) return;
    const family = current().families.get(name)!;
    registry.registerMetric({
      name,
      help: family.help,
      type: family.type,
      get: () => {
        const latest = current();
        for (const other of latest.families.keys()) if (!registry.getSingleMetric(other)) register(other);
        const { type, help, samples } = latest.families.get(name) ?? { ...family, samples: [] };
        return {
          name, help, type, aggregator: 'sum',
          values: samples.map((s) => ({ metricName: s.name, labels: Object.fromEntries(s.labels), value: Number(s.value) })),
        };
      },
      reset: () => undefined,
    });
  };
  for (const name of current().families.keys()) register(name);
  snapshot = null; // values read at registration are not the ones the first scrape wants
}
