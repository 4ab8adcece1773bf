/**
 * `npm run job -- <name>|all [--dry-run]`: runs a job of the job table now, printing
 * what it removed (or, with --dry-run, would remove) and a summary. `all` runs every
 * enabled job in dependency order and repeats until a round processes nothing (a dry
 * run: one round). With DATABASE_URL it uses the origin's settings (REDIS_URL, S3_* or
 * PIER_STORAGE_DIR); without it, the embedded registry's data directory
 * (PIER_DATA_DIR, default ./data) — and when a running embedded registry holds that
 * directory, the command asks it through POST /api/v1/superuser/jobs/<name> with
 * PIER_ADMIN_USER / PIER_ADMIN_PASSWORD. With PIER_CONFIG it reads Quay's config.yaml as
 * `pier origin` does, the environment over it (a Kubernetes CronJob beside origins that mount
 * the config bundle). Exit codes: 0 done, 1 a job failed, 2 usage or settings.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { pgliteSql } from "../src/adapters/sql/pglite.js";
import { ConfigError, loadRegistryConfig, readInteger, readString, type ConfigSource } from "../src/core/config.js";
import { jobsInDependencyOrder, runJob, type JobOutcome } from "../src/core/jobs/runner.js";
import { jobs, type Job } from "../src/core/jobs/scheduler.js";
import type { Registry } from "../src/core/registry.js";
import { dataDirHolder, lockDataDir } from "../src/runtime/data-dir-lock.js";
import { requireFipsWhenAsked } from "../src/runtime/fips.js";
import { loadNodeSettings } from "../src/runtime/quay-config-file.js";
import { embeddedRegistry } from "../workers/embedded-registry.js";
import { openOriginRegistry } from "../workers/origin-registry.js";

/** Runs one batch of a job, printing its report lines; and what to close afterwards. */
interface Target {
  run(job: Job, dryRun: boolean): Promise<JobOutcome>;
  close(): Promise<void>;
}

class UsageError extends Error {}

const print = (job: Job) => (line: string) => console.log(`${job.name}: ${line}`);

function localTarget(registry: Registry, close: () => Promise<void>): Target {
  return { run: (job, dryRun) => runJob(registry, job, { dryRun, report: print(job) }), close };
}

/** The embedded registry that holds the data directory, asked over HTTP as its admin. */
function remoteTarget(env: ConfigSource, holder: number, dataDir: string): Target {
  const password = readString(env, "PIER_ADMIN_PASSWORD");
  if (password === null) {
    throw new UsageError(`${dataDir} is held by a running Pier (pid ${holder}); set PIER_ADMIN_PASSWORD (and PIER_ADMIN_USER) to ask it`);
  }
  const host = readString(env, "PIER_HOST") ?? "127.0.0.1";
  const base = readString(env, "PIER_JOB_URL") ?? `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${readInteger(env, "PORT", 5000)}`;
  const auth = `Basic ${Buffer.from(`${readString(env, "PIER_ADMIN_USER") ?? "admin"}:${password}`).toString("base64")}`;
  return {
    async run(job, dryRun) {
      const url = `${base}/api/v1/superuser/jobs/${encodeURIComponent(job.name)}?dry_run=${dryRun}`;
      const response = await fetch(url, { method: "POST", headers: { authorization: auth } });
      const body = (await response.json().catch(() => ({}))) as Partial<JobOutcome> & { report?: string[]; error_message?: string };
      if (!response.ok) return { name: job.name, error: `${url} answered ${response.status}: ${body.error_message ?? "no detail"}` };
      for (const line of body.report ?? []) print(job)(line);
      return { name: job.name, processed: body.processed, error: body.error, skipped: body.skipped };
    },
    close: async () => {},
  };
}

async function openTarget(env: ConfigSource): Promise<Target> {
  if (readString(env, "DATABASE_URL") !== null) {
    const { registry, close } = await openOriginRegistry(env, { migrateFirst: false });
    return localTarget(registry, close);
  }
  const dataDir = resolve(readString(env, "PIER_DATA_DIR") ?? "data");
  const holder = await dataDirHolder(dataDir);
  if (holder !== null) return remoteTarget(env, holder, dataDir);
  if (!existsSync(join(dataDir, "postgres"))) {
    throw new UsageError(`no database: set DATABASE_URL, or PIER_DATA_DIR to an embedded registry's data directory (${dataDir} has none)`);
  }
  const unlock = await lockDataDir(dataDir);
  const sql = await pgliteSql(join(dataDir, "postgres"));
  const registry = embeddedRegistry(env, dataDir, loadRegistryConfig(env), sql, null);
  return localTarget(registry, () => sql.close().then(unlock));
}

/** One summary line; true when the run failed. */
function summarize(outcome: JobOutcome, dryRun: boolean): boolean {
  if (outcome.error !== undefined) console.error(`${outcome.name}: failed: ${outcome.error}`);
  else if (outcome.skipped) console.log(`${outcome.name}: skipped (${outcome.skipped})`);
  else console.log(`${outcome.name}: ${dryRun ? "would process" : "processed"} ${outcome.processed}`);
  return outcome.error !== undefined;
}

async function main(args: string[]): Promise<number> {
  const dryRun = args.includes("--dry-run");
  const names = args.filter((arg) => arg !== "--dry-run");
  const job = jobs.find((candidate) => candidate.name === names[0]);
  if (names.length !== 1 || (names[0] !== "all" && job === undefined)) {
    console.error(`usage: npm run job -- <name>|all [--dry-run]; jobs: ${jobs.map((j) => j.name).join(", ")}`);
    return 2;
  }
  let target: Target;
  try {
    const env = await loadNodeSettings("origin", [], process.env, (line) => console.error(`pier job: ${line}`));
    // Jobs sign storage requests and delete blobs: FIPS mode holds for them as for the origin.
    requireFipsWhenAsked(env);
    target = await openTarget(env);
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    return error instanceof UsageError || error instanceof ConfigError ? 2 : 1;
  }
  try {
    if (job !== undefined) return summarize(await target.run(job, dryRun), dryRun) ? 1 : 0;
    let failed = false;
    let total = 0;
    for (let round = 1; ; round++) {
      let processed = 0;
      for (const next of jobsInDependencyOrder()) {
        const outcome = await target.run(next, dryRun);
        failed = summarize(outcome, dryRun) || failed;
        processed += outcome.processed ?? 0;
      }
      total += processed;
      // A dry run changes nothing, so another round would find the same items.
      if (processed === 0 || dryRun) {
        console.log(`all: ${round} round${round === 1 ? "" : "s"}, ${total} item${total === 1 ? "" : "s"}${dryRun ? " (dry run)" : ""}`);
        break;
      }
    }
    return failed ? 1 : 0;
  } finally {
    await target.close();
  }
}

process.exit(await main(process.argv.slice(2)));
