/**
 * The auto-prune job through the edge Worker's scheduled handler in workerd, on
 * PostgreSQL through the Neon gateways and Redis through the Upstash gateway.
 */
import { fireCron } from "./cron.js";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { s3BlobStore } from "../../src/adapters/blob/s3.js";
import { neonSql } from "../../src/adapters/sql/neon.js";
import { pythonJson } from "../../src/core/audit.js";
import { loadS3Settings } from "../../src/core/config.js";
import { MediaType } from "../../src/core/model/media-types.js";
import { ensureTask, insertPolicy } from "../../src/db/queries/autoprune.js";
import { createNamespace, createRepository, storeManifest, tagManifest, unique } from "../support/quay-seed.js";

describe("edge Worker: autoprune", () => {
  it("prunes by a namespace policy from the job's cron trigger and records success", async () => {
    // A database of the job tests' own, and Redis keys of this test's own (job leases).
    const jobsEnv = { ...env, DATABASE_URL: env.JOBS_DATABASE_URL!, PIER_REDIS_PREFIX: "autoprune-test:" };
    const sql = neonSql({ connectionString: jobsEnv.DATABASE_URL, fetchEndpoint: env.NEON_FETCH_ENDPOINT, wsProxy: env.NEON_WS_PROXY });
    const target = { sql, blobs: s3BlobStore(loadS3Settings(env)!) };
    const namespace = unique("prune");
    const namespaceId = await createNamespace(target, namespace, { organization: true });
    const repositoryId = await createRepository(target, namespaceId, "app");
    const text = JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociManifest, config: {}, layers: [], n: namespace });
    const manifest = await storeManifest(target, repositoryId, text, MediaType.ociManifest);
    for (const [i, name] of ["old", "older", "newest"].entries()) {
      await tagManifest(target, repositoryId, name, manifest.id, { startMs: Date.now() - [2000, 3000, 1000][i]! });
    }
    const policy = { method: "number_of_tags", value: 1, tag_pattern: null, tag_pattern_matches: true };
    await insertPolicy(sql, { kind: "namespace", namespaceId }, crypto.randomUUID(), pythonJson(policy));
    await ensureTask(sql, namespaceId);

    await fireCron("autoprune", { ...jobsEnv, PIER_AUTO_PRUNE: "true" });

    const alive = await sql.query<{ name: string }>(
      `SELECT name FROM tag WHERE repository_id = $1 AND (lifetime_end_ms IS NULL OR lifetime_end_ms > $2) ORDER BY name`,
      [repositoryId, Date.now()],
    );
    expect(alive.rows.map((r) => r.name)).toEqual(["newest"]);
    const task = await sql.query<{ status: string }>(`SELECT status FROM autoprunetaskstatus WHERE namespace_id = $1`, [namespaceId]);
    expect(task.rows).toEqual([{ status: "success" }]);
    const audits = await sql.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM logentry3 l JOIN logentrykind k ON k.id = l.kind_id
       WHERE k.name = 'autoprune_tag_delete' AND l.account_id = $1`,
      [namespaceId],
    );
    expect(audits.rows[0]!.n).toBe("2");
  });
});
