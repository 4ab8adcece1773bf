/**
 * A small Prometheus metrics registry: counters, gauges and histograms with labels,
 * rendered in the text exposition format (0.0.4). Recording is on the hot path, so a
 * series is found by a cheap key of its label values and holds plain numbers; the
 * exposition keys (`name{label="value",…}`) are built only when rendering or shipping.
 * Those keys are also how the edge's counts are aggregated in Redis and merged back.
 */
export type Labels = Readonly<Record<string, string>>;

type Kind = "counter" | "gauge" | "histogram";

interface Series {
  labels: Labels;
  /** Counter or gauge value. */
  value: number;
  /** Histogram: observations per bucket (not cumulative), then sum and count. */
  buckets?: number[];
  sum?: number;
  count?: number;
}

interface Metric {
  name: string;
  kind: Kind;
  help: string;
  bounds: readonly number[];
  series: Map<string, Series>;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function seriesKey(name: string, labels: Labels): string {
  let inner = "";
  for (const key in labels) inner += `${inner ? "," : ""}${key}="${escapeLabel(labels[key]!)}"`;
  return inner ? `${name}{${inner}}` : name;
}

/** Identifies a label set within one metric (call sites pass labels in a fixed order). */
function lookupKey(labels: Labels): string {
  let key = "";
  for (const name in labels) key += `${name}\u0001${labels[name]}\u0002`;
  return key;
}

/** The metric family a series key belongs to (histogram parts map to their histogram). */
function familyOf(key: string): string {
  return key.split("{")[0]!.replace(/_(bucket|sum|count)$/, "");
}

export interface Counter {
  inc(labels?: Labels, by?: number): void;
}

export interface Gauge {
  add(labels: Labels, by: number): void;
  /** Replaces the value (a timestamp, the last value seen). */
  set(labels: Labels, value: number): void;
}

export interface Histogram {
  observe(labels: Labels, value: number): void;
}

export class MetricsRegistry {
  private readonly metrics: Metric[] = [];
  private readonly shipped = new Map<string, number>();

  /** `constant` labels go on every series (e.g. which runtime recorded it). */
  constructor(private readonly constant: Labels = {}) {}

  counter(name: string, help: string): Counter {
    const metric = this.define(name, "counter", help, []);
    return { inc: (labels = {}, by = 1) => void (this.seriesOf(metric, labels).value += by) };
  }

  gauge(name: string, help: string): Gauge {
    const metric = this.define(name, "gauge", help, []);
    return {
      add: (labels, by) => void (this.seriesOf(metric, labels).value += by),
      set: (labels, value) => void (this.seriesOf(metric, labels).value = value),
    };
  }

  histogram(name: string, help: string, bounds: readonly number[]): Histogram {
    const metric = this.define(name, "histogram", help, bounds);
    return {
      observe: (labels, value) => {
        const series = this.seriesOf(metric, labels);
        let bucket = 0;
        while (bucket < bounds.length && value > bounds[bucket]!) bucket++;
        series.buckets![bucket]!++;
        series.sum! += value;
        series.count!++;
      },
    };
  }

  /** Counter and histogram growth since the last call, by exposition key (for shipping to an aggregate). */
  takeDeltas(): Record<string, number> {
    const deltas: Record<string, number> = {};
    for (const [key, value] of this.monotonicSamples()) {
      const delta = value - (this.shipped.get(key) ?? 0);
      if (delta !== 0) deltas[key] = delta;
      this.shipped.set(key, value);
    }
    return deltas;
  }

  /** The exposition text of this registry's series plus `external` ones (e.g. the edge's aggregate). */
  render(external: Readonly<Record<string, number>> = {}): string {
    const outside = new Map<string, [string, number][]>();
    for (const [key, value] of Object.entries(external)) {
      const family = familyOf(key);
      if (!outside.has(family)) outside.set(family, []);
      outside.get(family)!.push([key, value]);
    }
    const lines: string[] = [];
    for (const metric of this.metrics) {
      lines.push(`# HELP ${metric.name} ${metric.help}`, `# TYPE ${metric.name} ${metric.kind}`);
      for (const [key, value] of this.samples(metric)) lines.push(`${key} ${value}`);
      for (const [key, value] of outside.get(metric.name) ?? []) lines.push(`${key} ${value}`);
    }
    return `${lines.join("\n")}\n`;
  }

  private define(name: string, kind: Kind, help: string, bounds: readonly number[]): Metric {
    const metric: Metric = { name, kind, help, bounds, series: new Map() };
    this.metrics.push(metric);
    return metric;
  }

  private seriesOf(metric: Metric, labels: Labels): Series {
    const key = lookupKey(labels);
    let series = metric.series.get(key);
    if (!series) {
      series = { labels: { ...this.constant, ...labels }, value: 0 };
      if (metric.kind === "histogram")
        Object.assign(series, { buckets: new Array<number>(metric.bounds.length + 1).fill(0), sum: 0, count: 0 });
      metric.series.set(key, series);
    }
    return series;
  }

  /** Exposition samples of one metric: histogram buckets cumulative and ascending, then sum and count. */
  private *samples(metric: Metric): Generator<[string, number]> {
    for (const series of metric.series.values()) {
      if (metric.kind !== "histogram") {
        yield [seriesKey(metric.name, series.labels), series.value];
        continue;
      }
      let cumulative = 0;
      for (let i = 0; i <= metric.bounds.length; i++) {
        cumulative += series.buckets![i]!;
        const le = i < metric.bounds.length ? String(metric.bounds[i]) : "+Inf";
        yield [seriesKey(`${metric.name}_bucket`, { ...series.labels, le }), cumulative];
      }
      yield [seriesKey(`${metric.name}_sum`, series.labels), series.sum!];
      yield [seriesKey(`${metric.name}_count`, series.labels), series.count!];
    }
  }

  private *monotonicSamples(): Generator<[string, number]> {
    for (const metric of this.metrics) if (metric.kind !== "gauge") yield* this.samples(metric);
  }
}
