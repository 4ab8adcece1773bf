/**
 * POST /api/v1/superuser/jobs/<name> (Pier extension): superusers run one batch of a
 * job now, through the runner (lease included); everyone else gets Quay's 401/403.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jobLeaseKey } from "../../src/core/jobs/runner.js";
import { startApiHarness, type ApiHarness, type TestUser } from "../support/api-harness.js";
import { createNamespace, createRepository, unique } from "../support/quay-seed.js";

let api: ApiHarness;
let someone: TestUser;
let stale: string;

beforeAll(async () => {
  api = await startApiHarness("jobsapi");
  someone = await api.user("someone");
  const target = { sql: api.sql, blobs: api.registry.blobs };
  const repositoryId = await createRepository(target, await createNamespace(target, unique("jobs")), "app");
  const location = await api.sql.query<{ id: number }>(`SELECT id FROM imagestoragelocation ORDER BY id LIMIT 1`);
  stale = crypto.randomUUID();
  await api.sql.query(
    `INSERT INTO blobupload (repository_id, uuid, byte_count, location_id, storage_metadata, chunk_count, created)
     VALUES ($1, $2, 3, $3, '{}', 1, $4)`,
    [repositoryId, stale, location.rows[0]!.id, new Date(Date.now() - 3 * 24 * 3600_000)],
  );
});
afterAll(() => api.close());

const uploadRows = async () => (await api.sql.query(`SELECT 1 FROM blobupload WHERE uuid = $1`, [stale])).rows.length;

describe("POST /api/v1/superuser/jobs/<name>", () => {
  it("refuses anonymous callers with 401 and other users with 403, in Quay's shape", async () => {
    const anonymous = await api.call("POST", "/api/v1/superuser/jobs/upload-cleanup");
    expect(anonymous.status).toBe(401);
    expect(anonymous.json).toMatchObject({ error_type: "invalid_token", status: 401 });
    const user = await api.call("POST", "/api/v1/superuser/jobs/upload-cleanup", { auth: someone.basic });
    expect(user.status).toBe(403);
    expect(user.json).toMatchObject({ error_type: "insufficient_scope", detail: "Unauthorized", status: 403 });
    expect(await uploadRows()).toBe(1);
  });

  it("answers 404 for a job the table does not have and 400 for a bad dry_run", async () => {
    const missing = await api.call("POST", "/api/v1/superuser/jobs/no-such-job", { auth: api.root.basic });
    expect(missing.status).toBe(404);
    expect(missing.json).toMatchObject({ error_type: "not_found", detail: "no job named no-such-job" });
    const bad = await api.call("POST", "/api/v1/superuser/jobs/upload-cleanup?dry_run=maybe", { auth: api.root.basic });
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ error_type: "invalid_request", detail: "dry_run must be true or false" });
  });

  it("reports what a dry run would remove and removes nothing", async () => {
    const reply = await api.call("POST", "/api/v1/superuser/jobs/upload-cleanup?dry_run=true", { auth: api.root.basic });
    expect(reply.status).toBe(200);
    expect(reply.json).toEqual({ job: "upload-cleanup", processed: 1, report: [expect.stringContaining(`upload ${stale} (started `)] });
    expect(await uploadRows()).toBe(1);
  });

  it("skips jobs that cannot honour a dry run", async () => {
    const reply = await api.call("POST", "/api/v1/superuser/jobs/upload-orphans?dry_run=true", { auth: api.root.basic });
    expect(reply.json).toEqual({ job: "upload-orphans", processed: 0, report: [], skipped: "no-dry-run" });
  });

  it("does not run a job whose lease another runner holds", async () => {
    await api.registry.cache.set(jobLeaseKey("upload-cleanup"), "another-runner", 60);
    try {
      const reply = await api.call("POST", "/api/v1/superuser/jobs/upload-cleanup", { auth: api.root.basic });
      expect(reply.json).toEqual({ job: "upload-cleanup", processed: 0, report: [], skipped: "locked" });
      expect(await uploadRows()).toBe(1);
    } finally {
      await api.registry.cache.delete([jobLeaseKey("upload-cleanup")]);
    }
  });

  it("answers a failed batch with its error, its rows rolled back", async () => {
    // The harness has no blob storage: deleting the upload's bytes fails, so the batch does.
    const reply = await api.call("POST", "/api/v1/superuser/jobs/upload-cleanup?dry_run=false", { auth: api.root.basic });
    expect(reply.status).toBe(200);
    expect(reply.json).toMatchObject({ job: "upload-cleanup", processed: 0, error: "unexpected BlobStore.delete" });
    expect(await uploadRows()).toBe(1);
  });
});
