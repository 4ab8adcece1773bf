/**
 * Running a job of the job table, the one way every runtime does it (the edge's cron
 * triggers, the Node runtimes' timer, `npm run job`, the superuser endpoint): take the
 * job's lease in the shared cache, run one batch, record metrics, release the lease.
 */
import type { PierMetrics } from "../metrics/pier-metrics.js";
import { systemStopwatch } from "../ports/clock.js";
import type { Registry } from "../registry.js";
import { cronOf, jobs, type Job, type JobContext } from "./scheduler.js";

/** What became of one job's run. */
export interface JobOutcome {
  name: string;
  /** Items the batch processed (0: nothing left); absent when it failed or did not run. */
  processed?: number;
  error?: string;
  /**
   * Why it did not run: another runner holds its lease, the configuration disables it, or it
   * has no dry run.
   */
  skipped?: "locked" | "disabled" | "no-dry-run";
}

export interface RunJobOptions {
  /** Where job_* metrics go; null records none. */
  metrics?: PierMetrics | null;
  dryRun?: boolean;
  /** Receives the job's report lines. */
  report?: (line: string) => void;
}

/** The lease key of a job in the shared cache. */
export function jobLeaseKey(name: string): string {
  return `pier:job:${name}`;
}

const DEFAULT_LEASE_SECONDS = 300;

type Lease = "taken" | "held" | "unavailable";

async function takeLease(registry: Registry, job: Job, runId: string): Promise<Lease> {
  try {
    const taken = await registry.cache.setIfAbsent(jobLeaseKey(job.name), runId, job.leaseSeconds ?? DEFAULT_LEASE_SECONDS);
    return taken ? "taken" : "held";
  } catch {
    // Cache down: batches are idempotent and claim their rows themselves, so running unlocked is safe.
    return "unavailable";
  }
}

/** Releases the lease only while it is still this run's (a run that outlived its TTL may have lost it). */
async function releaseLease(registry: Registry, job: Job, runId: string): Promise<void> {
  try {
    if ((await registry.cache.get(jobLeaseKey(job.name))) === runId) await registry.cache.delete([jobLeaseKey(job.name)]);
  } catch {
    // The TTL ends it.
  }
}

/** Lease → one batch → metrics → release. Never throws: a failure is in the outcome, and the next tick retries. */
export async function runJob(registry: Registry, job: Job, options: RunJobOptions = {}): Promise<JobOutcome> {
  const metrics = options.metrics ?? null;
  const dryRun = options.dryRun ?? false;
  if (!(job.enabled?.(registry.config) ?? true)) return { name: job.name, skipped: "disabled" };
  if (dryRun && !job.supportsDryRun) return { name: job.name, skipped: "no-dry-run" };
  const runId = crypto.randomUUID();
  if ((await takeLease(registry, job, runId)) === "held") {
    metrics?.jobRuns.inc({ job_name: job.name, result: "locked" });
    return { name: job.name, skipped: "locked" };
  }
  // Not `job`: Prometheus gives every scraped series its target's `job` label, and renames a clashing one to exported_job.
  const labels = { job_name: job.name };
  const context: JobContext = {
    dryRun,
    report: options.report ?? (() => {}),
    reclaimed: (bytes) => metrics?.jobReclaimedBytes.inc(labels, bytes),
  };
  const stopwatch = metrics?.stopwatch ?? systemStopwatch;
  const started = stopwatch.now();
  try {
    const processed = await job.run(registry, context);
    metrics?.jobRuns.inc({ job_name: job.name, result: "success" });
    metrics?.jobItems.inc(labels, processed);
    // At 0 for jobs that reclaim nothing (yet): the series exists for dashboards from the first run.
    metrics?.jobReclaimedBytes.inc(labels, 0);
    metrics?.jobLastSuccess.set(labels, Math.floor(Date.now() / 1000));
    return { name: job.name, processed };
  } catch (error) {
    metrics?.jobRuns.inc({ job_name: job.name, result: "error" });
    return { name: job.name, error: error instanceof Error ? error.message : String(error) };
  } finally {
    metrics?.jobDuration.observe(labels, (stopwatch.now() - started) / 1000);
    await releaseLease(registry, job, runId);
  }
}

/** The edge's scheduled handler: every job bound to the cron trigger that fired, concurrently. */
export function runScheduledJobs(registry: Registry, cron: string, metrics: PierMetrics | null): Promise<JobOutcome[]> {
  return Promise.all(jobs.filter((job) => cronOf(job) === cron).map((job) => runJob(registry, job, { metrics })));
}

/** Jobs whose output others consume run first: purge frees rows GC then collects. */
const DEPENDENCY_ORDER = ["purge", "gc"];

/** The job table in the order `all` runs it: purge, gc, then the rest in table order. */
export function jobsInDependencyOrder(table: readonly Job[] = jobs): Job[] {
  const rank = (job: Job) => {
    const index = DEPENDENCY_ORDER.indexOf(job.name);
    return index === -1 ? DEPENDENCY_ORDER.length : index;
  };
  return [...table].sort((a, b) => rank(a) - rank(b));
}
