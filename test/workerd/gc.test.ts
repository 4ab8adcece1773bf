/**
 * Garbage collection through the edge Worker's scheduled handler in workerd, on
 * PostgreSQL through the Neon gateways, Redis through the Upstash gateway and the S3
 * server through aws4fetch: a tag past the time machine goes, with its manifest, the
 * blob only it used (row and object), while a blob another tag uses stays.
 */
import { fireCron } from "./cron.js";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { s3BlobStore } from "../../src/adapters/blob/s3.js";
import { neonSql } from "../../src/adapters/sql/neon.js";
import { loadS3Settings } from "../../src/core/config.js";
import { MediaType } from "../../src/core/model/media-types.js";
import { blobKey } from "../../src/core/storage-layout.js";
import { createNamespace, createRepository, storeBlob, storeManifest, tagManifest, unique } from "../support/quay-seed.js";

const encode = (text: string) => new TextEncoder().encode(text);

describe("edge Worker: gc", () => {
  it("collects an expired tag's manifest and its own blob from the job's cron trigger", async () => {
    // A database of the job tests' own, and Redis keys of this test's own (job leases).
    const jobsEnv = { ...env, DATABASE_URL: env.JOBS_DATABASE_URL!, PIER_REDIS_PREFIX: "gc-test:" };
    const sql = neonSql({ connectionString: jobsEnv.DATABASE_URL, fetchEndpoint: env.NEON_FETCH_ENDPOINT, wsProxy: env.NEON_WS_PROXY });
    const blobs = s3BlobStore(loadS3Settings(env)!);
    const target = { sql, blobs };
    const namespaceId = await createNamespace(target, unique("gc"), { organization: true });
    const repositoryId = await createRepository(target, namespaceId, "app");
    const shared = await storeBlob(target, encode(`shared ${crypto.randomUUID()}`));
    const own = await storeBlob(target, encode(`own ${crypto.randomUUID()}`));
    const manifest = (blobsOf: (typeof shared)[], seed: string) =>
      storeManifest(
        target,
        repositoryId,
        JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociManifest, seed }),
        MediaType.ociManifest,
        {
          blobs: blobsOf,
        },
      );
    const doomed = await manifest([shared, own], crypto.randomUUID());
    const kept = await manifest([shared], crypto.randomUUID());
    const threeWeeksAgo = Date.now() - 21 * 24 * 3600_000;
    await tagManifest(target, repositoryId, "old", doomed.id, { startMs: threeWeeksAgo - 1000, endMs: threeWeeksAgo });
    await tagManifest(target, repositoryId, "latest", kept.id);

    await fireCron("gc", jobsEnv);

    const count = async (text: string, params: (string | number)[]) =>
      Number((await sql.query<{ n: string }>(`SELECT count(*)::text AS n FROM (${text}) q`, params)).rows[0]!.n);
    expect(await count(`SELECT 1 FROM tag WHERE repository_id = $1 AND name = 'old'`, [repositoryId])).toBe(0);
    expect(await count(`SELECT 1 FROM manifest WHERE id = $1`, [doomed.id])).toBe(0);
    expect(await count(`SELECT 1 FROM imagestorage WHERE id = $1`, [own.storageId])).toBe(0);
    expect(await blobs.stat(blobKey(own.digest)!)).toBeNull();
    expect(await count(`SELECT 1 FROM imagestorage WHERE id = $1`, [shared.storageId])).toBe(1);
    expect(await blobs.stat(blobKey(shared.digest)!)).toEqual({ size: shared.size });
  });
});
