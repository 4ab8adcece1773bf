/**
 * The Node runtimes' stand-in for cron triggers: each job of the job table runs
 * on its own interval. Timers are unref'd so they never hold the process open.
 */
import { jobs, runJobs, type JobOutcome } from "../core/jobs/scheduler.js";
import type { Registry } from "../core/registry.js";

export function startJobTimer(registry: Registry, report: (outcome: JobOutcome) => void): () => void {
  const timers = jobs.map((job) => {
    let running = false;
    const tick = async () => {
      if (running) return;
      running = true;
      try {
        for (const outcome of await runJobs(registry, [job])) report(outcome);
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
