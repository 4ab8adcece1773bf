/**
 * The edge Worker inside workerd, through the gateways to real PostgreSQL (Neon
 * HTTP + WebSocket), Redis (Upstash REST) and the verifying S3 server.
 */
import { fireCron } from "./cron.js";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { s3BlobStore } from "../../src/adapters/blob/s3.js";
import { neonSql } from "../../src/adapters/sql/neon.js";
import { loadS3Settings } from "../../src/core/config.js";
import { EDGE_METRICS_KEY } from "../../src/core/metrics/pier-metrics.js";
import { uploadKey } from "../../src/core/storage-layout.js";
import { edgeRegistry } from "../../workers/edge.js";
import { createNamespace, createRepository, unique } from "../support/quay-seed.js";

const edge = (exports as unknown as { default: { fetch(request: Request): Promise<Response> } }).default;

describe("edge Worker", () => {
  it("answers GET /v2/ with Quay's bearer challenge", async () => {
    const response = await edge.fetch(new Request("https://registry.example/v2/"));
    expect(response.status).toBe(401);
    expect(response.headers.get("Docker-Distribution-API-Version")).toBe("registry/2.0");
    expect(response.headers.get("WWW-Authenticate")).toBe('Bearer realm="https://registry.example/v2/auth",service="registry.example"');
    expect(await response.json()).toBe(true);
  });

  it("reports PostgreSQL over Neon HTTP and Redis over Upstash as healthy", async () => {
    const response = await edge.fetch(new Request("https://registry.example/health/instance"));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ data: { services: { database: true, cache: true } }, status_code: 200 });
  });

  it("answers unknown /v2 paths with OCI error JSON, not a 500", async () => {
    const response = await edge.fetch(new Request("https://registry.example/v2/no/such/endpoint"));
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({
      errors: [{ code: "UNSUPPORTED", message: "the requested endpoint does not exist", detail: {} }],
    });
  });

  it("runs the upload cleanup job from its cron trigger: rows via a Neon WebSocket transaction, bytes in S3", async () => {
    const sql = neonSql({ connectionString: env.DATABASE_URL, fetchEndpoint: env.NEON_FETCH_ENDPOINT, wsProxy: env.NEON_WS_PROXY });
    const blobs = s3BlobStore(loadS3Settings(env)!);
    const stale = crypto.randomUUID();
    const fresh = crypto.randomUUID();
    const namespaceId = await createNamespace({ sql, blobs }, unique("cleanup"));
    const repositoryId = await createRepository({ sql, blobs }, namespaceId, "app", { visibility: "private" });
    const location = await sql.query<{ id: number }>(`INSERT INTO imagestoragelocation (name) VALUES ($1) RETURNING id`, [`edge-${stale}`]);
    for (const [uuid, age] of [
      [stale, 3 * 24 * 3600_000],
      [fresh, 60_000],
    ] as const) {
      await sql.query(
        `INSERT INTO blobupload (repository_id, uuid, byte_count, location_id, storage_metadata, chunk_count, created)
         VALUES ($1, $2, 3, $3, '{}', 1, $4)`,
        [repositoryId, uuid, location.rows[0]!.id, new Date(Date.now() - age)],
      );
      await blobs.put(uploadKey(uuid), new Blob(["abc"]).stream(), 3);
    }

    const cache = edgeRegistry(env).cache;
    const successes = `pier_job_runs_total{runtime="edge",job_name="upload-cleanup",result="success"}`;
    const before = (await cache.readFields(EDGE_METRICS_KEY))[successes] ?? 0;
    await fireCron("upload-cleanup", env);

    const left = await sql.query<{ uuid: string }>(`SELECT uuid FROM blobupload WHERE uuid = ANY($1::varchar[])`, [`{${stale},${fresh}}`]);
    expect(left.rows.map((r) => r.uuid)).toEqual([fresh]);
    expect(await blobs.stat(uploadKey(stale))).toBeNull();
    expect(await blobs.stat(uploadKey(fresh))).toEqual({ size: 3 });
    // The run's metrics left the isolate with the scheduled event, not with some later request.
    expect((await cache.readFields(EDGE_METRICS_KEY))[successes]).toBe(before + 1);
  });
});
