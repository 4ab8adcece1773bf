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

/** `+Inf` → Infinity, else the bound's number (NaN sorts last). */
function bound(le: string): number {
  return le === "+Inf" ? Infinity : Number(le);
}

/**
 * Histogram samples from an aggregate, in exposition order: grouped by series (the labels
 * without `le`, which the key always ends in), buckets by ascending bound, then `_sum` —
 * 0 when the aggregate has a `_count` but never received a `_sum` — then `_count`.
 */
function orderedHistogram(name: string, samples: readonly [string, number][]): [string, number][] {
  const groups = new Map<string, { buckets: [number, string, number][]; sum?: [string, number]; count?: [string, number] }>();
  const group = (labels: string) => {
    if (!groups.has(labels)) groups.set(labels, { buckets: [] });
    return groups.get(labels)!;
  };
  for (const [key, value] of samples) {
    const brace = key.indexOf("{");
    const part = brace === -1 ? key.slice(name.length) : key.slice(name.length, brace);
    const labels = brace === -1 ? "" : key.slice(brace + 1, -1);
    if (part === "_bucket") {
      const le = /(?:^|,)le="([^"]*)"$/.exec(labels);
      const rest = le ? labels.slice(0, le.index) : labels;
      group(rest).buckets.push([bound(le?.[1] ?? "+Inf"), key, value]);
    } else if (part === "_sum") group(labels).sum = [key, value];
    else if (part === "_count") group(labels).count = [key, value];
  }
  const ordered: [string, number][] = [];
  for (const [labels, { buckets, sum, count }] of groups) {
    buckets.sort((a, b) => (a[0] === b[0] ? 0 : a[0] < b[0] || Number.isNaN(b[0]) ? -1 : 1));
    for (const [, key, value] of buckets) ordered.push([key, value]);
    const suffix = labels ? `{${labels}}` : "";
    if (sum) ordered.push(sum);
    else if (count) ordered.push([`${name}_sum${suffix}`, 0]);
    if (count) ordered.push(count);
  }
  return ordered;
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
  private readonly collectors: (() => void)[] = [];

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

  /** Runs `collect` before every render: values read when scraped (a process's memory and CPU time). */
  beforeRender(collect: () => void): void {
    this.collectors.push(collect);
  }

  /**
   * Counter and histogram growth since the last call, by exposition key (for shipping to
   * an aggregate). A histogram series that saw observations ships every part — each bucket,
   * `_sum` and `_count`, zero growth included — so the aggregate holds whole histograms:
   * a `_sum` that stayed 0 (durations workerd's frozen timers measure as 0, requests that
   * ran no SQL) or a bucket below every observation would otherwise never reach it.
   */
  takeDeltas(): Record<string, number> {
    const deltas: Record<string, number> = {};
    for (const metric of this.metrics) {
      if (metric.kind === "gauge") continue;
      for (const series of metric.series.values()) {
        const parts = [...this.seriesSamples(metric, series)].map(([key, value]): [string, number] => {
          const delta = value - (this.shipped.get(key) ?? 0);
          this.shipped.set(key, value);
          return [key, delta];
        });
        // A histogram's `_count` (its last part) says whether it changed; a counter has one part.
        if (parts[parts.length - 1]![1] === 0) continue;
        for (const [key, delta] of parts) deltas[key] = delta;
      }
    }
    return deltas;
  }

  /**
   * Every sample of this registry by exposition key, values read now (collectors run):
   * what a process of a group hands over so the group's sum can be rendered.
   */
  snapshot(): Record<string, number> {
    for (const collect of this.collectors) collect();
    const samples: Record<string, number> = {};
    for (const metric of this.metrics) for (const [key, value] of this.samples(metric)) samples[key] = value;
    return samples;
  }

  /**
   * The exposition text of this registry's series plus `external` ones (e.g. the edge's
   * aggregate), each family's external histograms put back in order: per series its
   * buckets by ascending `le`, then `_sum` (0 when the aggregate never received one), then `_count`.
   * With `group` (the merged snapshots of every process serving the same port, this one
   * included), those samples stand in for this registry's own.
   */
  render(external: Readonly<Record<string, number>> = {}, group?: Readonly<Record<string, number>>): string {
    for (const collect of this.collectors) collect();
    const outside = new Map<string, [string, number][]>();
    for (const [key, value] of [...Object.entries(group ?? {}), ...Object.entries(external)]) {
      const family = familyOf(key);
      if (!outside.has(family)) outside.set(family, []);
      outside.get(family)!.push([key, value]);
    }
    const lines: string[] = [];
    for (const metric of this.metrics) {
      lines.push(`# HELP ${metric.name} ${metric.help}`, `# TYPE ${metric.name} ${metric.kind}`);
      if (group === undefined) for (const [key, value] of this.samples(metric)) lines.push(`${key} ${value}`);
      const merged = outside.get(metric.name) ?? [];
      for (const [key, value] of metric.kind === "histogram" ? orderedHistogram(metric.name, merged) : merged)
        lines.push(`${key} ${value}`);
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
    for (const series of metric.series.values()) yield* this.seriesSamples(metric, series);
  }

  private *seriesSamples(metric: Metric, series: Series): Generator<[string, number]> {
    if (metric.kind !== "histogram") {
      yield [seriesKey(metric.name, series.labels), series.value];
      return;
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
