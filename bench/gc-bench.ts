/**
 * The garbage-collection rows of `npm run bench` (issue 11): a repository seeded with
 * many manifests (two blobs of their own each, a tag each, a quarter of the tags ended
 * long past the time machine, those blobs' objects in S3), then a GC pass in its own
 * process (bench/gc-run.ts) until nothing is left. Reported: items collected per second,
 * SQL statements per collected manifest at two sizes (constant by design: each item is a
 * fixed set of statements), the pass's peak RSS, and the origin's warm manifest GET
 * req/s while the pass runs against the same figure just before it.
 */
import { spawn } from "node:child_process";
import { s3BlobStore } from "../src/adapters/blob/s3.js";
import { nodePostgresSql } from "../src/adapters/sql/node-postgres.js";
import { loadRegistryConfig, loadS3Settings } from "../src/core/config.js";
import { MediaType } from "../src/core/model/media-types.js";
import { blobKey } from "../src/core/storage-layout.js";
import { originEnvFor } from "../test/support/origin-process.js";
import { createNamespace, createRepository, unique } from "../test/support/quay-seed.js";
import { REDIS_URL } from "../test/support/services.js";
import { measureLoad, type LoadResult, type LoadSettings } from "./load.js";
import type { PierSetup } from "./pier.js";

export interface GcPass {
  manifests: number;
  expiredManifests: number;
  seconds: number;
  /** Items the pass removed (tags, manifests, labels, links, blobs). */
  processed: number;
  collectedManifests: number;
  collectedBlobs: number;
  statements: number;
  transactions: number;
  maxRssBytes: number;
}

export interface GcResults {
  small: GcPass;
  large: GcPass;
  /** Warm manifest GET on the origin, just before the large pass and while it ran. */
  baseline: LoadResult;
  duringGc: LoadResult;
  /** False when the pass ended before the load run did (part of the run saw no GC). */
  loadInsideGc: boolean;
}

const DAY = 86_400_000;
const DIGEST = (text: string) => `'sha256:' || encode(sha256(convert_to(${text}, 'UTF8')), 'hex')`;
const MANIFEST_TEXT = `'{"gcbench":"' || $1 || '","n":' || g || '}'`;
const BLOB_TEXT = (k: string) => `$1 || ':' || ${k}`;

/** Seeds `count` manifests in a new repository; returns the digests of the blobs GC should delete. */
export async function seed(pier: Pick<PierSetup, "bindings">, count: number): Promise<string[]> {
  const sql = nodePostgresSql(pier.bindings.DATABASE_URL);
  const blobs = s3BlobStore(loadS3Settings({ ...pier.bindings })!);
  try {
    const target = { sql, blobs };
    const namespaceId = await createNamespace(target, unique("gcbench"), { organization: true });
    const repositoryId = await createRepository(target, namespaceId, "many");
    const prefix = unique("g");
    const nowMs = Date.now();
    await sql.transaction(async (tx) => {
      await tx.query(
        `WITH s AS (
           INSERT INTO imagestorage (uuid, image_size, uncompressed_size, uploading, cas_path, content_checksum)
           SELECT md5(${BLOB_TEXT("g")}), 100, 100, false, true, ${DIGEST(BLOB_TEXT("g"))} FROM generate_series(1, 2 * $2::int) g
           RETURNING id)
         INSERT INTO imagestorageplacement (storage_id, location_id) SELECT s.id, l.id FROM s, imagestoragelocation l WHERE l.name = $3`,
        [prefix, count, loadRegistryConfig(originEnvFor(pier.bindings, REDIS_URL)).storageLocation],
      );
      await tx.query(
        `INSERT INTO manifest (repository_id, digest, media_type_id, manifest_bytes, layers_compressed_size, subject_backfilled, artifact_type_backfilled)
         SELECT $3, ${DIGEST(MANIFEST_TEXT)}, mt.id, ${MANIFEST_TEXT}, 200, true, true
         FROM generate_series(1, $2::int) g, mediatype mt WHERE mt.name = $4`,
        [prefix, count, repositoryId, MediaType.ociManifest],
      );
      await tx.query(
        `INSERT INTO manifestblob (repository_id, manifest_id, blob_id)
         SELECT $3, m.id, s.id FROM generate_series(1, $2::int) g
         JOIN manifest m ON m.repository_id = $3 AND m.digest = ${DIGEST(MANIFEST_TEXT)}
         CROSS JOIN LATERAL (VALUES (2 * g - 1), (2 * g)) AS k(k)
         JOIN imagestorage s ON s.content_checksum = ${DIGEST(BLOB_TEXT("k.k"))}`,
        [prefix, count, repositoryId],
      );
      await tx.query(
        `INSERT INTO tag (name, repository_id, manifest_id, lifetime_start_ms, lifetime_end_ms, immutable, hidden, reversion, tag_kind_id)
         SELECT 't' || g, $3, m.id, $4::bigint - ${40 * DAY}, CASE WHEN g % 4 = 0 THEN $4::bigint - ${30 * DAY} END, false, false, false, k.id
         FROM generate_series(1, $2::int) g
         JOIN manifest m ON m.repository_id = $3 AND m.digest = ${DIGEST(MANIFEST_TEXT)}
         CROSS JOIN tagkind k WHERE k.name = 'tag'`,
        [prefix, count, repositoryId, nowMs],
      );
    });
    const { rows } = await sql.query<{ digest: string }>(
      `SELECT ${DIGEST(BLOB_TEXT("k"))} AS digest FROM generate_series(1, $2::int) g CROSS JOIN LATERAL (VALUES (2 * g - 1), (2 * g)) AS v(k)
       WHERE g % 4 = 0`,
      [prefix, count],
    );
    const doomed = rows.map((r) => r.digest);
    // Their objects, 100 bytes each, 32 at a time.
    const body = new Uint8Array(100);
    for (let start = 0; start < doomed.length; start += 32) {
      await Promise.all(
        doomed.slice(start, start + 32).map((digest) => blobs.put(blobKey(digest)!, new Blob([body]).stream(), body.byteLength)),
      );
    }
    return doomed;
  } finally {
    await sql.close();
  }
}

/** What bench/gc-run.ts prints. */
interface PassOutput {
  seconds: number;
  processed: number;
  /** Report lines by their first word: tag, manifest, blob, kept. */
  kinds: Record<string, number>;
  statements: number;
  transactions: number;
  maxRssBytes: number;
}

/** Runs bench/gc-run.ts to completion against the bench's database, Redis and S3. */
function runPass(pier: PierSetup): Promise<PassOutput> {
  const child = spawn(process.execPath, ["--import", "tsx", "bench/gc-run.ts"], {
    env: { ...process.env, ...originEnvFor(pier.bindings, REDIS_URL) },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.on("exit", (code) => {
      const line = /GC_RESULT (\{.*\})/.exec(out);
      if (code !== 0 || !line) reject(new Error(`bench/gc-run.ts exited ${code}; output:\n${out}`));
      else resolve(JSON.parse(line[1]!) as PassOutput);
    });
  });
}

async function measuredPass(pier: PierSetup, manifests: number, during?: () => Promise<LoadResult>) {
  const doomed = await seed(pier, manifests);
  const pass = runPass(pier);
  let load: { result: LoadResult; endedAt: number } | null = null;
  if (during) {
    // Let the pass connect and start before the load run.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    load = { result: await during(), endedAt: performance.now() };
  }
  const result = await pass;
  const passEndedAt = performance.now();
  return {
    pass: {
      manifests,
      expiredManifests: doomed.length / 2,
      seconds: result.seconds,
      processed: result.processed,
      collectedManifests: result.kinds.manifest ?? 0,
      collectedBlobs: result.kinds.blob ?? 0,
      statements: result.statements,
      transactions: result.transactions,
      maxRssBytes: result.maxRssBytes,
    } satisfies GcPass,
    load,
    passEndedAt,
  };
}

export async function runGcBenchmark(
  pier: PierSetup,
  manifestPath: string,
  settings: LoadSettings,
  cores: number,
  log: (line: string) => void,
): Promise<GcResults> {
  const request = {
    method: "GET" as const,
    url: `${pier.origin.url}${manifestPath}`,
    headers: { accept: MediaType.ociManifest },
    expectStatus: 200,
  };
  log("GC: seeding 10k manifests (20k blob rows), a quarter expired, and collecting them");
  const small = await measuredPass(pier, 10_000);
  log("GC: seeding 50k manifests (100k blob rows); manifest GET on the origin without GC, then during the pass");
  const baseline = await measureLoad(pier.origin.pid, request, settings, cores);
  const large = await measuredPass(pier, 50_000, () => measureLoad(pier.origin.pid, request, settings, cores));
  return {
    small: small.pass,
    large: large.pass,
    baseline,
    duringGc: large.load!.result,
    loadInsideGc: large.passEndedAt >= large.load!.endedAt,
  };
}
