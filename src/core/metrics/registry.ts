/**
 * A small Prometheus metrics registry: counters, gauges and histograms with labels,
 * rendered in the text exposition format (0.0.4). Every series is addressed by its
 * exposition key (`name{label="value",…}`), which is also how the edge's counts are
 * aggregated in Redis and merged back in here.
 */
export type Labels = Readonly<Record<string, string>>;

type Kind = "counter" | "gauge" | "histogram";

interface Family {
  kind: Kind;
  help: string;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function seriesKey(name: string, labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return name;
  return `${name}{${entries.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}`;
}

/** The metric family a series key belongs to (histogram parts map to their histogram). */
function familyOf(key: string): string {
  const name = key.split("{")[0]!;
  return name.replace(/_(bucket|sum|count)$/, "");
}

export interface Counter {
  inc(labels?: Labels, by?: number): void;
}

export interface Gauge {
  add(labels: Labels, by: number): void;
}

export interface Histogram {
  observe(labels: Labels, value: number): void;
}

export class MetricsRegistry {
  private readonly families = new Map<string, Family>();
  /** Counter and histogram series: monotonic, so their deltas can be shipped elsewhere. */
  private readonly monotonic = new Map<string, number>();
  private readonly shipped = new Map<string, number>();
  private readonly gauges = new Map<string, number>();

  /** `constant` labels go on every series (e.g. which runtime recorded it). */
  constructor(private readonly constant: Labels = {}) {}

  counter(name: string, help: string): Counter {
    this.families.set(name, { kind: "counter", help });
    return { inc: (labels = {}, by = 1) => this.add(this.monotonic, seriesKey(name, { ...this.constant, ...labels }), by) };
  }

  gauge(name: string, help: string): Gauge {
    this.families.set(name, { kind: "gauge", help });
    return { add: (labels, by) => this.add(this.gauges, seriesKey(name, { ...this.constant, ...labels }), by) };
  }

  histogram(name: string, help: string, buckets: readonly number[]): Histogram {
    this.families.set(name, { kind: "histogram", help });
    return {
      observe: (labels, value) => {
        const all = { ...this.constant, ...labels };
        for (const bound of buckets)
          if (value <= bound) this.add(this.monotonic, seriesKey(`${name}_bucket`, { ...all, le: String(bound) }), 1);
        this.add(this.monotonic, seriesKey(`${name}_bucket`, { ...all, le: "+Inf" }), 1);
        this.add(this.monotonic, seriesKey(`${name}_sum`, all), value);
        this.add(this.monotonic, seriesKey(`${name}_count`, all), 1);
      },
    };
  }

  /** Counter and histogram growth since the last call (for shipping to an aggregate). */
  takeDeltas(): Record<string, number> {
    const deltas: Record<string, number> = {};
    for (const [key, value] of this.monotonic) {
      const delta = value - (this.shipped.get(key) ?? 0);
      if (delta !== 0) deltas[key] = delta;
      this.shipped.set(key, value);
    }
    return deltas;
  }

  /** The exposition text of this registry's series plus `external` ones (e.g. the edge's aggregate). */
  render(external: Readonly<Record<string, number>> = {}): string {
    const byFamily = new Map<string, [string, number][]>();
    const collect = (key: string, value: number) => {
      const family = familyOf(key);
      if (!byFamily.has(family)) byFamily.set(family, []);
      byFamily.get(family)!.push([key, value]);
    };
    for (const [key, value] of [...this.monotonic, ...this.gauges]) collect(key, value);
    for (const [key, value] of Object.entries(external)) if (this.families.has(familyOf(key))) collect(key, value);
    const lines: string[] = [];
    for (const [name, family] of this.families) {
      lines.push(`# HELP ${name} ${family.help}`, `# TYPE ${name} ${family.kind}`);
      // In the order series first appeared: histogram buckets ascend, +Inf, then sum and count.
      for (const [key, value] of byFamily.get(name) ?? []) lines.push(`${key} ${value}`);
    }
    return `${lines.join("\n")}\n`;
  }

  private add(map: Map<string, number>, key: string, by: number): void {
    map.set(key, (map.get(key) ?? 0) + by);
  }
}
