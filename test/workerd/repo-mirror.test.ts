/**
 * The repo-mirror job on the edge, in workerd: its cron trigger fires with mirroring on,
 * and the edge leaves a due mirror untouched (no claim, no audit entry) because it has no
 * streamed hashing to verify blobs with — the Node runtimes sync it (docs/mirroring.md).
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { s3BlobStore } from "../../src/adapters/blob/s3.js";
import { neonSql } from "../../src/adapters/sql/neon.js";
import { pythonJson } from "../../src/core/audit.js";
import { loadS3Settings } from "../../src/core/config.js";
import { runJob } from "../../src/core/jobs/runner.js";
import { cronOf, jobs } from "../../src/core/jobs/scheduler.js";
import { insertMirrorConfig, insertMirrorRule, setRepositoryState } from "../../src/db/queries/repo-mirror.js";
import worker, { edgeRegistry } from "../../workers/edge.js";
import { createNamespace, createRepository, unique } from "../support/quay-seed.js";

describe("edge Worker: repo-mirror", () => {
  it("skips the sync from its cron trigger (no streamed hashing on the edge): a due mirror stays unclaimed", async () => {
    const mirrorEnv = { ...env, DATABASE_URL: env.JOBS_DATABASE_URL!, PIER_REDIS_PREFIX: "repo-mirror-test:", PIER_REPO_MIRROR: "true" };
    const sql = neonSql({ connectionString: mirrorEnv.DATABASE_URL, fetchEndpoint: env.NEON_FETCH_ENDPOINT, wsProxy: env.NEON_WS_PROXY });
    const target = { sql, blobs: s3BlobStore(loadS3Settings(env)!) };
    const org = unique("edgemirror");
    const orgId = await createNamespace(target, org, { organization: true });
    const repoId = await createRepository(target, orgId, "app", { visibility: "private" });
    const robot = await createNamespace(target, `${org}+syncer`);
    const now = Date.now();
    await sql.transaction(async (tx) => {
      const ruleId = await insertMirrorRule(tx, repoId, pythonJson(["*"]), now);
      await insertMirrorConfig(tx, {
        repositoryId: repoId,
        isEnabled: true,
        robotId: robot,
        externalReference: "127.0.0.1:9/team/app",
        username: null,
        password: null,
        externalRegistryConfig: pythonJson({ verify_tls: false }),
        architectureFilter: "[]",
        syncInterval: 3600,
        startMs: now - 60_000,
        skopeoTimeout: 300,
        ruleId,
        nowMs: now,
      });
      await setRepositoryState(tx, repoId, 2);
    });
    const before = await sql.query(
      `SELECT sync_status, sync_transaction_id, sync_retries_remaining FROM repomirrorconfig WHERE repository_id = $1`,
      [repoId],
    );

    const job = jobs.find((j) => j.name === "repo-mirror")!;
    expect(await runJob(edgeRegistry(mirrorEnv), job)).toEqual({ name: "repo-mirror", skipped: "no-hashing" });
    const pending: Promise<unknown>[] = [];
    await worker.scheduled(
      { cron: cronOf(job), scheduledTime: Date.now(), noRetry() {} } as never,
      mirrorEnv as never,
      { waitUntil: (p: Promise<unknown>) => pending.push(p), passThroughOnException() {} } as never,
    );
    await Promise.all(pending);

    const after = await sql.query(
      `SELECT sync_status, sync_transaction_id, sync_retries_remaining FROM repomirrorconfig WHERE repository_id = $1`,
      [repoId],
    );
    expect(after.rows).toEqual(before.rows);
    expect(after.rows[0]).toMatchObject({ sync_status: 0, sync_retries_remaining: 3 });
    const audits = await sql.query(`SELECT 1 FROM logentry3 WHERE repository_id = $1`, [repoId]);
    expect(audits.rows).toEqual([]);
  });
});
