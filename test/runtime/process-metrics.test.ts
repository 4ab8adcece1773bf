/**
 * The Node runtimes' process metrics and build info: Prometheus' conventional process_*
 * names read when scraped, the event loop's lag sampled into a histogram (a loop held
 * for 200 ms shows up above 100 ms), and the version and commit pier_build_info reports.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { MetricsRegistry } from "../../src/core/metrics/registry.js";
import { nodeBuildInfo } from "../../src/runtime/build-info.js";
import { recordProcessMetrics } from "../../src/runtime/process-metrics.js";

const stops: (() => void)[] = [];
afterEach(() => stops.splice(0).forEach((stop) => stop()));

function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("process metrics", () => {
  it("reports memory, CPU time, start time, descriptors and heap under Prometheus' names", () => {
    const registry = new MetricsRegistry({ runtime: "origin" });
    stops.push(recordProcessMetrics(registry));
    const first = registry.render();
    expect(first).toMatch(/^# TYPE process_cpu_seconds_total counter$/m);
    expect(first).toMatch(/^# TYPE process_resident_memory_bytes gauge$/m);
    const rss = sample(first, 'process_resident_memory_bytes{runtime="origin"}')!;
    // Within the kernel's count for this process (read right after).
    const kernelRss = Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync("/proc/self/status", "utf8"))![1]) * 1024;
    expect(rss).toBeGreaterThan(10 * 1024 * 1024);
    expect(rss).toBeLessThan(kernelRss * 2);
    const cpu = sample(first, 'process_cpu_seconds_total{runtime="origin"}')!;
    const user = sample(first, 'process_cpu_user_seconds_total{runtime="origin"}')!;
    const system = sample(first, 'process_cpu_system_seconds_total{runtime="origin"}')!;
    expect(cpu).toBeGreaterThan(0);
    expect(cpu).toBeCloseTo(user + system, 6);
    const started = sample(first, 'process_start_time_seconds{runtime="origin"}')!;
    expect(started).toBeCloseTo(Date.now() / 1000 - process.uptime(), -1);
    expect(sample(first, 'process_open_fds{runtime="origin"}')).toBeGreaterThan(2);
    expect(sample(first, 'nodejs_heap_size_used_bytes{runtime="origin"}')).toBeGreaterThan(0);

    // Counters never go back; CPU spent between scrapes is added.
    for (let spin = Date.now(); Date.now() - spin < 50;);
    const second = registry.render();
    expect(sample(second, 'process_cpu_seconds_total{runtime="origin"}')).toBeGreaterThan(cpu);
    expect(sample(second, 'process_cpu_user_seconds_total{runtime="origin"}')).toBeGreaterThanOrEqual(user);
  });

  it("samples the event loop's lag: a loop held for 200 ms lands above 100 ms", async () => {
    const registry = new MetricsRegistry({ runtime: "origin" });
    stops.push(recordProcessMetrics(registry, { lagSampleMs: 20 }));
    await settle(100);
    for (let spin = performance.now(); performance.now() - spin < 200;);
    await settle(100);
    const text = registry.render();
    const count = sample(text, 'nodejs_eventloop_lag_seconds_count{runtime="origin"}')!;
    expect(count).toBeGreaterThan(2);
    expect(sample(text, 'nodejs_eventloop_lag_seconds_bucket{runtime="origin",le="0.1"}')).toBeLessThan(count);
    expect(sample(text, 'nodejs_eventloop_lag_seconds_sum{runtime="origin"}')).toBeGreaterThan(0.1);
  });
});

describe("build info", () => {
  const { version } = JSON.parse(readFileSync("package.json", "utf8")) as { version: string };

  it("takes the commit from PIER_COMMIT when set", () => {
    expect(nodeBuildInfo({ PIER_COMMIT: " 0123abcd " })).toEqual({ version, commit: "0123abcd" });
  });

  it("asks git when running unbundled from a checkout, else says unknown", () => {
    let head = "unknown";
    try {
      head = execFileSync("git", ["rev-parse", "--short=12", "HEAD"], { stdio: ["ignore", "pipe", "ignore"] })
        .toString()
        .trim();
    } catch {
      // Not a git checkout (a release tarball): nothing to ask.
    }
    expect(nodeBuildInfo({})).toEqual({ version, commit: head });
  });
});
