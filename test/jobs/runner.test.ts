/**
 * The job runner every runtime uses: a lease in the shared cache (real Redis) keeps two
 * runners off the same job; a failure is recorded, released and retried on the next
 * call; a dead cache does not stop jobs; dry runs never reach jobs that cannot honour them.
 */
import { afterAll, describe, expect, it } from "vitest";
import { redisCache } from "../../src/adapters/cache/redis.js";
import { loadRegistryConfig } from "../../src/core/config.js";
import { jobLeaseKey, jobsInDependencyOrder, runJob } from "../../src/core/jobs/runner.js";
import { cronOf, jobs, type Job, type JobContext } from "../../src/core/jobs/scheduler.js";
import { createPierMetrics } from "../../src/core/metrics/pier-metrics.js";
import type { Registry } from "../../src/core/registry.js";
import { REDIS_URL } from "../support/services.js";

const caches = [redisCache({ url: REDIS_URL }), redisCache({ url: REDIS_URL })];
afterAll(() => Promise.all(caches.map((cache) => cache.close())));

/** A runner's view: what a job of these tests touches (config and cache). */
function runnerRegistry(cache = caches[0]!, env: Record<string, string> = {}): Registry {
  return { config: loadRegistryConfig(env), cache } as unknown as Registry;
}

const uniqueName = () => `test-job-${crypto.randomUUID()}`;

function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("runJob", () => {
  it("lets one of two runners run a job at once, then releases the lease", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let runs = 0;
    const job: Job = { name: uniqueName(), everyMinutes: 5, run: async () => (runs++, await gate, 7) };
    const metrics = createPierMetrics("origin");
    const first = runJob(runnerRegistry(caches[0]), job, { metrics });
    await expect.poll(() => caches[1]!.get(jobLeaseKey(job.name))).not.toBeNull();
    expect(await runJob(runnerRegistry(caches[1]), job, { metrics })).toEqual({ name: job.name, skipped: "locked" });
    release();
    expect(await first).toEqual({ name: job.name, processed: 7 });
    expect(runs).toBe(1);
    expect(await caches[0]!.get(jobLeaseKey(job.name))).toBeNull();
    expect(await runJob(runnerRegistry(caches[1]), job)).toEqual({ name: job.name, processed: 7 });
    const text = metrics.registry.render();
    expect(sample(text, `pier_job_runs_total{runtime="origin",job_name="${job.name}",result="locked"}`)).toBe(1);
    expect(sample(text, `pier_job_runs_total{runtime="origin",job_name="${job.name}",result="success"}`)).toBe(1);
  });

  it("records a failure, releases the lease and succeeds when retried", async () => {
    let attempt = 0;
    const job: Job = {
      name: uniqueName(),
      everyMinutes: 5,
      run: async (_registry, context: JobContext) => {
        if (++attempt === 1) throw new Error("database went away");
        context.reclaimed(4096);
        return 3;
      },
    };
    const metrics = createPierMetrics("origin");
    const before = Math.floor(Date.now() / 1000);
    expect(await runJob(runnerRegistry(), job, { metrics })).toEqual({ name: job.name, error: "database went away" });
    expect(await caches[0]!.get(jobLeaseKey(job.name))).toBeNull();
    let text = metrics.registry.render();
    expect(sample(text, `pier_job_runs_total{runtime="origin",job_name="${job.name}",result="error"}`)).toBe(1);
    expect(sample(text, `pier_job_last_success_timestamp_seconds{runtime="origin",job_name="${job.name}"}`)).toBeUndefined();

    expect(await runJob(runnerRegistry(), job, { metrics })).toEqual({ name: job.name, processed: 3 });
    text = metrics.registry.render();
    expect(sample(text, `pier_job_runs_total{runtime="origin",job_name="${job.name}",result="success"}`)).toBe(1);
    expect(sample(text, `pier_job_items_total{runtime="origin",job_name="${job.name}"}`)).toBe(3);
    expect(sample(text, `pier_job_reclaimed_bytes_total{runtime="origin",job_name="${job.name}"}`)).toBe(4096);
    expect(sample(text, `pier_job_duration_seconds_count{runtime="origin",job_name="${job.name}"}`)).toBe(2);
    expect(sample(text, `pier_job_last_success_timestamp_seconds{runtime="origin",job_name="${job.name}"}`)).toBeGreaterThanOrEqual(before);
  });

  it("times a run with the metrics' stopwatch, below a millisecond", async () => {
    let ticks = 0;
    const metrics = createPierMetrics("origin", { stopwatch: { now: () => ++ticks * 0.2 } });
    const job: Job = { name: uniqueName(), everyMinutes: 5, run: async () => 1 };
    expect(await runJob(runnerRegistry(), job, { metrics })).toEqual({ name: job.name, processed: 1 });
    const text = metrics.registry.render();
    expect(sample(text, `pier_job_duration_seconds_bucket{runtime="origin",job_name="${job.name}",le="0.001"}`)).toBe(1);
    expect(sample(text, `pier_job_duration_seconds_sum{runtime="origin",job_name="${job.name}"}`)).toBeCloseTo(0.0002, 9);
  });

  it("runs without a lease when the cache is down", async () => {
    const down = redisCache({ url: "redis://127.0.0.1:1", commandTimeoutMs: 200 });
    try {
      const job: Job = { name: uniqueName(), everyMinutes: 5, run: async () => 2 };
      expect(await runJob(runnerRegistry(down), job)).toEqual({ name: job.name, processed: 2 });
    } finally {
      await down.close();
    }
  });

  it("passes dry runs only to jobs that honour them, with their report lines", async () => {
    let touched = false;
    const blind: Job = { name: uniqueName(), everyMinutes: 5, run: async () => ((touched = true), 1) };
    expect(await runJob(runnerRegistry(), blind, { dryRun: true })).toEqual({ name: blind.name, skipped: "no-dry-run" });
    expect(touched).toBe(false);

    const seen: boolean[] = [];
    const lines: string[] = [];
    const honest: Job = {
      name: uniqueName(),
      everyMinutes: 5,
      supportsDryRun: true,
      run: async (_registry, context) => (seen.push(context.dryRun), context.report("would remove x"), 1),
    };
    expect(await runJob(runnerRegistry(), honest, { dryRun: true, report: (line) => lines.push(line) })).toEqual({
      name: honest.name,
      processed: 1,
    });
    expect(seen).toEqual([true]);
    expect(lines).toEqual(["would remove x"]);
  });

  it("skips a job the configuration disables", async () => {
    const job: Job = { name: uniqueName(), everyMinutes: 5, enabled: (config) => config.autoPrune, run: async () => 1 };
    expect(await runJob(runnerRegistry(caches[0], { PIER_AUTO_PRUNE: "false" }), job)).toEqual({ name: job.name, skipped: "disabled" });
    expect(await runJob(runnerRegistry(caches[0], { PIER_AUTO_PRUNE: "true" }), job)).toEqual({ name: job.name, processed: 1 });
  });
});

describe("the job table", () => {
  it("orders purge, then gc, then the rest as listed", () => {
    const named = (name: string): Job => ({ name, everyMinutes: 5, run: async () => 0 });
    const order = jobsInDependencyOrder([named("quota-backfill"), named("gc"), named("upload-cleanup"), named("purge")]);
    expect(order.map((job) => job.name)).toEqual(["purge", "gc", "quota-backfill", "upload-cleanup"]);
  });

  it("has unique names and a cron form for every interval", () => {
    expect(new Set(jobs.map((job) => job.name)).size).toBe(jobs.length);
    for (const job of jobs) expect(cronOf(job)).toMatch(/^(\*\/\d+|0) (\*|\*\/\d+|0) \* \* \*$/);
  });

  it("writes minutes, hours and days as cron, and refuses intervals cron cannot express", () => {
    const every = (everyMinutes: number): Job => ({ name: "x", everyMinutes, run: async () => 0 });
    expect(cronOf(every(1))).toBe("*/1 * * * *");
    expect(cronOf(every(15))).toBe("*/15 * * * *");
    expect(cronOf(every(60))).toBe("0 */1 * * *");
    expect(cronOf(every(360))).toBe("0 */6 * * *");
    expect(cronOf(every(1440))).toBe("0 0 * * *");
    for (const bad of [7, 90, 0, 2880]) expect(() => cronOf(every(bad))).toThrow(/no cron form/);
  });
});
