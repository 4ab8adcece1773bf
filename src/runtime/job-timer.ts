/**
 * The Node runtimes' stand-in for cron triggers: each job of the job table runs
 * on its own interval, through the same runner as the edge (lease, metrics). A run
 * that failed is simply retried on the next tick. Timers are unref'd so they never
 * hold the process open.
 */
import { runJob, type JobOutcome } from "../core/jobs/runner.js";
import { jobs } from "../core/jobs/scheduler.js";
import type { PierMetrics } from "../core/metrics/pier-metrics.js";
import type { Registry } from "../core/registry.js";

export function startJobTimer(registry: Registry, metrics: PierMetrics | null, report: (outcome: JobOutcome) => void): () => void {
  const timers = jobs.map((job) => {
    let running = false;
    const tick = async () => {
      if (running) return;
      running = true;
      try {
        report(await runJob(registry, job, { metrics }));
      } finally {
        running = false;
      }
    };
    if (job.atStart) void tick();
    const timer = setInterval(tick, job.everyMinutes * 60_000);
    timer.unref();
    return timer;
  });
  return () => timers.forEach(clearInterval);
}
