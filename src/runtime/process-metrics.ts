/**
 * The Node runtimes' process metrics, under Prometheus' conventional names (what its
 * client libraries export, so stock dashboards and alerts apply): resident memory, CPU
 * seconds, start time, open file descriptors and the V8 heap, read when /metrics is
 * scraped; plus the event loop's lag, sampled by a timer into a histogram.
 */
import { readdirSync } from "node:fs";
import type { MetricsRegistry } from "../core/metrics/registry.js";

/** Seconds a timer fired late; the loop's healthy range is below 10 ms. */
const LAG_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** Descriptors open now (Linux /proc); null where the platform does not say. */
function openFileDescriptors(): number | null {
  try {
    return readdirSync("/proc/self/fd").length;
  } catch {
    return null;
  }
}

export interface ProcessMetricsOptions {
  /** How often the event loop's lag is sampled (default 500 ms). */
  lagSampleMs?: number;
}

/**
 * Adds the process metrics to `registry` and starts the lag sampler (an unref'd timer:
 * it never holds the process open). Returns what stops the sampler.
 *
 * Lag is how late a timer due every `lagSampleMs` ran: a request that holds the loop
 * for 300 ms delays the next sample by up to 300 ms. Stalls much shorter than the
 * interval show up only in part — the histogram is for the stalls that hurt.
 */
export function recordProcessMetrics(registry: MetricsRegistry, options: ProcessMetricsOptions = {}): () => void {
  const rss = registry.gauge("process_resident_memory_bytes", "Resident memory size in bytes.");
  const cpu = registry.counter("process_cpu_seconds_total", "User and system CPU time spent, in seconds.");
  const cpuUser = registry.counter("process_cpu_user_seconds_total", "User CPU time spent, in seconds.");
  const cpuSystem = registry.counter("process_cpu_system_seconds_total", "System CPU time spent, in seconds.");
  const startTime = registry.gauge("process_start_time_seconds", "Start time of the process since the Unix epoch, in seconds.");
  const openFds = registry.gauge("process_open_fds", "Open file descriptors (Linux).");
  const heapUsed = registry.gauge("nodejs_heap_size_used_bytes", "V8 heap in use, in bytes.");
  const heapTotal = registry.gauge("nodejs_heap_size_total_bytes", "V8 heap allocated, in bytes.");
  const lag = registry.histogram("nodejs_eventloop_lag_seconds", "How late the event loop ran a timer, in seconds (sampled).", LAG_BUCKETS);

  startTime.set({}, Math.round(performance.timeOrigin) / 1000);
  // The counters only add: each scrape adds the CPU time used since the previous one.
  let counted = { user: 0, system: 0 };
  registry.beforeRender(() => {
    const usage = process.cpuUsage();
    cpuUser.inc({}, (usage.user - counted.user) / 1e6);
    cpuSystem.inc({}, (usage.system - counted.system) / 1e6);
    cpu.inc({}, (usage.user - counted.user + usage.system - counted.system) / 1e6);
    counted = usage;
    const memory = process.memoryUsage();
    rss.set({}, memory.rss);
    heapUsed.set({}, memory.heapUsed);
    heapTotal.set({}, memory.heapTotal);
    const fds = openFileDescriptors();
    if (fds !== null) openFds.set({}, fds);
  });

  const intervalMs = options.lagSampleMs ?? 500;
  let due = performance.now() + intervalMs;
  const sampler = setInterval(() => {
    const now = performance.now();
    lag.observe({}, Math.max(0, now - due) / 1000);
    due = now + intervalMs;
  }, intervalMs);
  sampler.unref();
  return () => clearInterval(sampler);
}
