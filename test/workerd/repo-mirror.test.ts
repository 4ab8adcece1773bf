/**
 * The repo-mirror job on the edge, in workerd: its cron trigger syncs a due mirror from a
 * real upstream (Debian's docker-registry, started by the workerd test stack), streaming
 * each blob into S3 while workerd's DigestStream hashes it.
 */
import { fireCron } from "./cron.js";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { s3BlobStore } from "../../src/adapters/blob/s3.js";
import { neonSql } from "../../src/adapters/sql/neon.js";
import { pythonJson } from "../../src/core/audit.js";
import { loadS3Settings } from "../../src/core/config.js";
import type { BlobStore } from "../../src/core/ports/blob-store.js";
import { blobKey } from "../../src/core/storage-layout.js";
import { insertMirrorConfig, insertMirrorRule, setRepositoryState } from "../../src/db/queries/repo-mirror.js";
import { createNamespace, createRepository, unique } from "../support/quay-seed.js";

const mirrorEnv = {
  ...env,
  DATABASE_URL: env.JOBS_DATABASE_URL!,
  PIER_REDIS_PREFIX: "repo-mirror-test:",
  PIER_REPO_MIRROR: "true",
  PIER_SSRF_ALLOWED_HOSTS: "127.0.0.1",
};
const sql = neonSql({ connectionString: mirrorEnv.DATABASE_URL, fetchEndpoint: env.NEON_FETCH_ENDPOINT, wsProxy: env.NEON_WS_PROXY });
const blobs = s3BlobStore(loadS3Settings(env)!);
const layers = env.MIRROR_UPSTREAM_LAYERS!.split(",").map((entry) => {
  const [digest, size] = entry.split("=");
  return { digest: digest!, size: Number(size) };
});

/** The stored object's sha256, hashed as it streams out of S3 (never whole in memory). */
async function storedDigest(store: BlobStore, digest: string): Promise<string | null> {
  const object = await store.get(blobKey(digest)!);
  if (object === null) return null;
  const hashing = new (
    crypto as unknown as { DigestStream: new (algorithm: string) => WritableStream & { digest: Promise<ArrayBuffer> } }
  ).DigestStream("SHA-256");
  await object.body.pipeTo(hashing);
  return `sha256:${Array.from(new Uint8Array(await hashing.digest), (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

async function dueMirror(): Promise<number> {
  const target = { sql, blobs };
  const org = unique("edgemirror");
  const orgId = await createNamespace(target, org, { organization: true });
  const repoId = await createRepository(target, orgId, "app", { visibility: "private" });
  const robot = await createNamespace(target, `${org}+syncer`);
  const now = Date.now();
  await sql.transaction(async (tx) => {
    const ruleId = await insertMirrorRule(tx, repoId, pythonJson(["v*"]), now);
    await insertMirrorConfig(tx, {
      repositoryId: repoId,
      isEnabled: true,
      robotId: robot,
      externalReference: `${env.MIRROR_UPSTREAM_HOST}/team/app`,
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
  return repoId;
}

describe("edge Worker: repo-mirror", () => {
  it("syncs a due mirror from its cron trigger: the tag, the manifest and blobs whose stored bytes hash to their digests", async () => {
    const repoId = await dueMirror();
    await fireCron("repo-mirror", mirrorEnv);

    const status = await sql.query<{ sync_status: number }>(`SELECT sync_status FROM repomirrorconfig WHERE repository_id = $1`, [repoId]);
    expect(status.rows).toEqual([{ sync_status: 1 }]);
    const tags = await sql.query<{ name: string; digest: string }>(
      `SELECT t.name, m.digest FROM tag t JOIN manifest m ON m.id = t.manifest_id WHERE t.repository_id = $1 AND t.lifetime_end_ms IS NULL`,
      [repoId],
    );
    expect(tags.rows).toEqual([{ name: "v1", digest: env.MIRROR_UPSTREAM_DIGEST }]);
    for (const layer of layers) {
      expect(await storedDigest(blobs, layer.digest)).toBe(layer.digest);
      const placed = await sql.query<{ image_size: string }>(
        `SELECT s.image_size::text FROM imagestorage s JOIN manifestblob mb ON mb.blob_id = s.id
          JOIN manifest m ON m.id = mb.manifest_id WHERE m.repository_id = $1 AND s.content_checksum = $2`,
        [repoId, layer.digest],
      );
      expect(placed.rows).toEqual([{ image_size: String(layer.size) }]);
    }
    const audits = await sql.query<{ kind: string }>(
      `SELECT k.name AS kind FROM logentry3 l JOIN logentrykind k ON k.id = l.kind_id WHERE l.repository_id = $1 ORDER BY l.id`,
      [repoId],
    );
    expect(audits.rows.map((row) => row.kind)).toContain("repo_mirror_sync_success");
  });
});
