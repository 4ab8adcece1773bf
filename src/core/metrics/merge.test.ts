import { describe, expect, it } from "vitest";
import { mergeSnapshots } from "./merge.js";
import { MetricsRegistry } from "./registry.js";

/** A worker's registry: the same families as its siblings, its own counts. */
function worker(requests: number, latencies: number[], startedAt: number) {
  const registry = new MetricsRegistry({ runtime: "origin" });
  registry.counter("pier_http_requests_total", "Requests.").inc({ family: "manifest" }, requests);
  const latency = registry.histogram("pier_seconds", "Latency.", [0.1, 1]);
  for (const seconds of latencies) latency.observe({ family: "manifest" }, seconds);
  registry.gauge("process_resident_memory_bytes", "RSS.").set({}, 100);
  registry.gauge("process_start_time_seconds", "Start.").set({}, startedAt);
  registry.gauge("pier_build_info", "Build.").set({ commit: "abc" }, 1);
  return registry;
}

describe("mergeSnapshots", () => {
  it("renders the group's sum in place of one process's own samples: counters, histograms and amounts add, a start time is the earliest", () => {
    const first = worker(3, [0.05, 0.5], 1000);
    const second = worker(4, [2], 900);
    const text = first.render({}, mergeSnapshots([first.snapshot(), second.snapshot()]));
    expect(text).toBe(
      [
        "# HELP pier_http_requests_total Requests.",
        "# TYPE pier_http_requests_total counter",
        'pier_http_requests_total{runtime="origin",family="manifest"} 7',
        "# HELP pier_seconds Latency.",
        "# TYPE pier_seconds histogram",
        'pier_seconds_bucket{runtime="origin",family="manifest",le="0.1"} 1',
        'pier_seconds_bucket{runtime="origin",family="manifest",le="1"} 2',
        'pier_seconds_bucket{runtime="origin",family="manifest",le="+Inf"} 3',
        'pier_seconds_sum{runtime="origin",family="manifest"} 2.55',
        'pier_seconds_count{runtime="origin",family="manifest"} 3',
        "# HELP process_resident_memory_bytes RSS.",
        "# TYPE process_resident_memory_bytes gauge",
        'process_resident_memory_bytes{runtime="origin"} 200',
        "# HELP process_start_time_seconds Start.",
        "# TYPE process_start_time_seconds gauge",
        'process_start_time_seconds{runtime="origin"} 900',
        "# HELP pier_build_info Build.",
        "# TYPE pier_build_info gauge",
        'pier_build_info{runtime="origin",commit="abc"} 1',
        "",
      ].join("\n"),
    );
  });

  it("keeps series only some processes have, and the edge's aggregate beside the group's", () => {
    const first = worker(1, [], 1);
    const second = new MetricsRegistry({ runtime: "origin" });
    second.counter("pier_http_requests_total", "Requests.").inc({ family: "blob" }, 2);
    const merged = mergeSnapshots([first.snapshot(), second.snapshot()]);
    const text = first.render({ 'pier_http_requests_total{runtime="edge",family="blob"}': 5 }, merged);
    expect(text).toContain('pier_http_requests_total{runtime="origin",family="manifest"} 1\n');
    expect(text).toContain('pier_http_requests_total{runtime="origin",family="blob"} 2\n');
    expect(text).toContain('pier_http_requests_total{runtime="edge",family="blob"} 5\n');
  });
});
