import { describe, expect, it } from "vitest";
import { MetricsRegistry } from "./registry.js";

describe("MetricsRegistry", () => {
  it("renders counters, gauges and cumulative histograms in the Prometheus text format", () => {
    const registry = new MetricsRegistry({ runtime: "origin" });
    const requests = registry.counter("demo_requests_total", "Requests.");
    const inFlight = registry.gauge("demo_in_flight", "In flight.");
    const latency = registry.histogram("demo_seconds", "Latency.", [0.1, 1]);
    requests.inc({ family: "manifest" });
    requests.inc({ family: "manifest" }, 2);
    requests.inc({ family: 'we"ird\nname' });
    inFlight.add({}, 3);
    inFlight.add({}, -1);
    latency.observe({ family: "blob" }, 0.05);
    latency.observe({ family: "blob" }, 0.5);
    expect(registry.render()).toBe(
      [
        "# HELP demo_requests_total Requests.",
        "# TYPE demo_requests_total counter",
        'demo_requests_total{runtime="origin",family="manifest"} 3',
        'demo_requests_total{runtime="origin",family="we\\"ird\\nname"} 1',
        "# HELP demo_in_flight In flight.",
        "# TYPE demo_in_flight gauge",
        'demo_in_flight{runtime="origin"} 2',
        "# HELP demo_seconds Latency.",
        "# TYPE demo_seconds histogram",
        'demo_seconds_bucket{runtime="origin",family="blob",le="0.1"} 1',
        'demo_seconds_bucket{runtime="origin",family="blob",le="1"} 2',
        'demo_seconds_bucket{runtime="origin",family="blob",le="+Inf"} 2',
        'demo_seconds_sum{runtime="origin",family="blob"} 0.55',
        'demo_seconds_count{runtime="origin",family="blob"} 2',
        "",
      ].join("\n"),
    );
  });

  it("hands out counter growth once, and merges series recorded elsewhere", () => {
    const edge = new MetricsRegistry({ runtime: "edge" });
    const requests = edge.counter("demo_requests_total", "Requests.");
    requests.inc({ family: "blob" }, 5);
    expect(edge.takeDeltas()).toEqual({ 'demo_requests_total{runtime="edge",family="blob"}': 5 });
    expect(edge.takeDeltas()).toEqual({});
    requests.inc({ family: "blob" });
    expect(edge.takeDeltas()).toEqual({ 'demo_requests_total{runtime="edge",family="blob"}': 1 });

    const origin = new MetricsRegistry({ runtime: "origin" });
    origin.counter("demo_requests_total", "Requests.").inc({ family: "blob" });
    const text = origin.render({ 'demo_requests_total{runtime="edge",family="blob"}': 6, "unknown_metric 1": 1 });
    expect(text).toContain('demo_requests_total{runtime="edge",family="blob"} 6\n');
    expect(text).toContain('demo_requests_total{runtime="origin",family="blob"} 1\n');
    expect(text).not.toContain("unknown_metric");
  });

  it("ships whole histogram series, a _sum that stayed 0 and buckets below every observation included", () => {
    const edge = new MetricsRegistry({ runtime: "edge" });
    const perRequest = edge.histogram("demo_per_request", "Per request.", [0, 1, 2]);
    perRequest.observe({ family: "manifest" }, 0);
    perRequest.observe({ family: "blob" }, 2);
    const key = (part: string, family: string, le?: string) =>
      `demo_per_request_${part}{runtime="edge",family="${family}"${le === undefined ? "" : `,le="${le}"`}}`;
    expect(edge.takeDeltas()).toEqual({
      [key("bucket", "manifest", "0")]: 1,
      [key("bucket", "manifest", "1")]: 1,
      [key("bucket", "manifest", "2")]: 1,
      [key("bucket", "manifest", "+Inf")]: 1,
      [key("sum", "manifest")]: 0,
      [key("count", "manifest")]: 1,
      [key("bucket", "blob", "0")]: 0,
      [key("bucket", "blob", "1")]: 0,
      [key("bucket", "blob", "2")]: 1,
      [key("bucket", "blob", "+Inf")]: 1,
      [key("sum", "blob")]: 2,
      [key("count", "blob")]: 1,
    });
    // Only the series that changed ships again.
    perRequest.observe({ family: "blob" }, 1);
    expect(Object.keys(edge.takeDeltas())).toEqual([
      key("bucket", "blob", "0"),
      key("bucket", "blob", "1"),
      key("bucket", "blob", "2"),
      key("bucket", "blob", "+Inf"),
      key("sum", "blob"),
      key("count", "blob"),
    ]);
  });

  it("renders an aggregated histogram in order, with a _sum of 0 where the aggregate lacks one", () => {
    const origin = new MetricsRegistry({ runtime: "origin" });
    origin.histogram("demo_seconds", "Latency.", [0.1, 1]);
    // As a hash hands them back: any order; an older edge never shipped a _sum that stayed 0.
    const aggregate = {
      'demo_seconds_count{runtime="edge",family="blob"}': 3,
      'demo_seconds_bucket{runtime="edge",family="blob",le="+Inf"}': 3,
      'demo_seconds_bucket{runtime="edge",family="tags",le="1"}': 1,
      'demo_seconds_bucket{runtime="edge",family="blob",le="1"}': 3,
      'demo_seconds_sum{runtime="edge",family="tags"}': 0.5,
      'demo_seconds_bucket{runtime="edge",family="blob",le="0.1"}': 3,
      'demo_seconds_count{runtime="edge",family="tags"}': 1,
      'demo_seconds_bucket{runtime="edge",family="tags",le="0.1"}': 0,
      'demo_seconds_bucket{runtime="edge",family="tags",le="+Inf"}': 1,
    };
    expect(origin.render(aggregate)).toBe(
      [
        "# HELP demo_seconds Latency.",
        "# TYPE demo_seconds histogram",
        'demo_seconds_bucket{runtime="edge",family="blob",le="0.1"} 3',
        'demo_seconds_bucket{runtime="edge",family="blob",le="1"} 3',
        'demo_seconds_bucket{runtime="edge",family="blob",le="+Inf"} 3',
        'demo_seconds_sum{runtime="edge",family="blob"} 0',
        'demo_seconds_count{runtime="edge",family="blob"} 3',
        'demo_seconds_bucket{runtime="edge",family="tags",le="0.1"} 0',
        'demo_seconds_bucket{runtime="edge",family="tags",le="1"} 1',
        'demo_seconds_bucket{runtime="edge",family="tags",le="+Inf"} 1',
        'demo_seconds_sum{runtime="edge",family="tags"} 0.5',
        'demo_seconds_count{runtime="edge",family="tags"} 1',
        "",
      ].join("\n"),
    );
  });
});
