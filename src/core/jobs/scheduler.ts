/**
 * The job table: which bounded job runs on which cron trigger. The edge Worker's
 * scheduled handler and the Node runtimes' timer both call into this.
 */
import type { RegistryConfig } from "../config.js";
import type { Registry } from "../registry.js";
import { autoPruneEnabled, defaultAutoPruneEnabled, runAutoPrune, runDefaultAutoPrune } from "./autoprune.js";
import { cleanupStaleUploads } from "./upload-cleanup.js";
import { sweepAbandonedWrites, sweepOrphanedUploadObjects } from "./upload-orphans.js";

/** What a job run is told and tells back, besides the registry. */
export interface JobContext {
  /** Report what would be removed, change nothing (`npm run job -- <name> --dry-run`). */
  dryRun: boolean;
  /** One line per item removed (or, in a dry run, that would be removed), for the operator. */
  report(line: string): void;
  /** Bytes of storage the run reclaimed (metrics). */
  reclaimed(bytes: number): void;
}

export interface Job {
  name: string;
  /** How often it runs; on the edge the cron trigger `*\/N * * * *` in wrangler.toml. */
  everyMinutes: number;
  /** Also run once when a Node runtime starts (leftovers of a killed process). */
  atStart?: boolean;
  /** Whether the configuration enables it (a feature flag); always when absent. */
  enabled?(config: RegistryConfig): boolean;
  /** One bounded batch; how many items it processed (0: nothing left to do). */
  run(registry: Registry, context: JobContext): Promise<number>;
}

/** The context of a scheduled run: real, reporting nowhere. */
export const scheduledContext: JobContext = { dryRun: false, report: () => {}, reclaimed: () => {} };

export const jobs: readonly Job[] = [
  {
    name: "upload-cleanup",
    everyMinutes: 15,
    run: (registry) => cleanupStaleUploads(registry, { olderThanMinutes: 2880, batchSize: 100 }),
  },
  {
    name: "upload-orphans",
    everyMinutes: 15,
    atStart: true,
    run: async (registry) => {
      const options = { graceMinutes: 60, batchSize: 1000 };
      return (await sweepOrphanedUploadObjects(registry, options)) + (await sweepAbandonedWrites(registry, options));
    },
  },
  { name: "autoprune", everyMinutes: 1, enabled: autoPruneEnabled, run: (registry, context) => runAutoPrune(registry, context) },
  {
    // Ticks often but starts a pass only once a day (the shared cache remembers); each tick does one page.
    name: "autoprune-default",
    everyMinutes: 5,
    enabled: defaultAutoPruneEnabled,
    run: (registry, context) => runDefaultAutoPrune(registry, context),
  },
];

/** The cron expression that triggers a job on the edge. */
export function cronOf(job: Job): string {
  return `*/${job.everyMinutes} * * * *`;
}

export interface JobOutcome {
  name: string;
  processed?: number;
  error?: string;
}

/** Runs `due` concurrently; one job's failure does not stop the others. Jobs the configuration disables are skipped. */
export async function runJobs(registry: Registry, due: readonly Job[]): Promise<JobOutcome[]> {
  return Promise.all(
    due
      .filter((job) => job.enabled?.(registry.config) ?? true)
      .map(async (job): Promise<JobOutcome> => {
        try {
          return { name: job.name, processed: await job.run(registry, scheduledContext) };
        } catch (error) {
          return { name: job.name, error: error instanceof Error ? error.message : String(error) };
        }
      }),
  );
}

/** The edge's scheduled handler: every job bound to the cron trigger that fired. */
export function runScheduledJobs(registry: Registry, cron: string): Promise<JobOutcome[]> {
  return runJobs(
    registry,
    jobs.filter((job) => cronOf(job) === cron),
  );
}
