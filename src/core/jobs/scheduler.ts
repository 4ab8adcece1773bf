/**
 * The job table: which bounded job runs on which cron trigger. The edge Worker's
 * scheduled handler and the Node runtimes' timer both call into this.
 */
import type { RegistryConfig } from "../config.js";
import type { Registry } from "../registry.js";
import { autoPruneEnabled, defaultAutoPruneEnabled, runAutoPrune, runDefaultAutoPrune } from "./autoprune.js";
import { collectGarbage } from "./gc.js";
import { purgeDeleted } from "./purge.js";
import { backfillQuotaTotals } from "./quota-backfill.js";
import { repoMirrorEnabled, runRepoMirror } from "./repo-mirror.js";
import { replicationEnabled, runReplication } from "./replication.js";
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
  /** It honours `context.dryRun`; a dry run skips jobs without it, so a dry run never changes anything. */
  supportsDryRun?: boolean;
  /** How long its lease (src/core/jobs/runner.ts) holds; longer than a batch ever takes. Default 300. */
  leaseSeconds?: number;
  /** One bounded batch; how many items it processed (0: nothing left to do). */
  run(registry: Registry, context: JobContext): Promise<number>;
}

export const jobs: readonly Job[] = [
  {
    // Quay's repositorygcworker polls every 60 s. A dry run shows what would go.
    name: "purge",
    everyMinutes: 1,
    supportsDryRun: true,
    leaseSeconds: 900,
    run: (registry, context) => purgeDeleted(registry, context),
  },
  {
    // Quay's gcworker ticks every 30 s; a minute is the finest cron step.
    name: "gc",
    everyMinutes: 1,
    enabled: (config) => config.garbageCollection,
    supportsDryRun: true,
    leaseSeconds: 900,
    run: (registry, context) => collectGarbage(registry, context),
  },
  {
    name: "upload-cleanup",
    everyMinutes: 15,
    supportsDryRun: true,
    run: (registry, context) => cleanupStaleUploads(registry, { olderThanMinutes: 2880, batchSize: 100 }, context),
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
  {
    name: "autoprune",
    everyMinutes: 1,
    enabled: autoPruneEnabled,
    supportsDryRun: true,
    run: (registry, context) => runAutoPrune(registry, context),
  },
  {
    // Ticks often but starts a pass only once a day (the shared cache remembers); each tick does one page.
    name: "autoprune-default",
    everyMinutes: 5,
    enabled: defaultAutoPruneEnabled,
    supportsDryRun: true,
    run: (registry, context) => runDefaultAutoPrune(registry, context),
  },
  {
    // Quay polls every 15 s; a minute is the finest cron step. Changes only totals, so a dry run skips it.
    name: "quota-backfill",
    everyMinutes: 1,
    enabled: (config) => config.quota.enabled,
    run: (registry) => backfillQuotaTotals(registry),
  },
  {
    // Quay polls every 30 s (REPO_MIRROR_INTERVAL); each mirror row is claimed on its own, so runners split them.
    name: "repo-mirror",
    everyMinutes: 1,
    enabled: repoMirrorEnabled,
    // A sync renews its mirror's claim after every tag; the lease only spares duplicate polling.
    leaseSeconds: 900,
    run: (registry, context) => runRepoMirror(registry, context),
  },
  {
    // Quay's storagereplication worker polls every 10 s; items are claimed one by one (SKIP LOCKED), so runners split them.
    name: "replication",
    everyMinutes: 1,
    enabled: replicationEnabled,
    // An item's own reservation (20 min) guards its copy; the lease only spares duplicate polling.
    leaseSeconds: 900,
    run: (registry, context) => runReplication(registry, context),
  },
];

/**
 * The cron expression that triggers a job on the edge: every N minutes within the hour
 * (N divides 60), every H hours (H divides 24), or daily at midnight UTC. Other
 * intervals have no exact cron form and are refused.
 */
export function cronOf(job: Job): string {
  const minutes = job.everyMinutes;
  if (Number.isInteger(minutes) && minutes >= 1 && minutes < 60 && 60 % minutes === 0) return `*/${minutes} * * * *`;
  const hours = minutes / 60;
  if (Number.isInteger(hours) && hours >= 1 && hours < 24 && 24 % hours === 0) return `0 */${hours} * * *`;
  if (minutes === 1440) return "0 0 * * *";
  throw new Error(`job ${job.name}: everyMinutes ${minutes} has no cron form (use a divisor of 60, whole hours dividing 24, or 1440)`);
}
