/**
 * The replication job over three storage locations (each its own S3 server): pushed
 * blobs reach the default locations and the namespace's `userregion` ones, streamed and
 * verified, with a placement recorded after each copy; a copy interrupted mid-stream or
 * fed bytes that do not hash to the digest leaves no placement and no object, and is
 * retried later with backoff; two runners never copy the same blob.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { s3BlobStore } from "../../src/adapters/blob/s3.js";
import { loadRegistryConfig } from "../../src/core/config.js";
import { asyncLocalScope } from "../../src/adapters/scope/async-local.js";
import {
  queueMissing,
  replicationEnabled,
  replicationStats,
  runReplication,
  REPLICATION_DEFAULTS,
  REPLICATION_SWEEP_KEY,
} from "../../src/core/jobs/replication.js";
import { MediaType } from "../../src/core/model/media-types.js";
import type { JobContext } from "../../src/core/jobs/scheduler.js";
import type { BlobStore } from "../../src/core/ports/blob-store.js";
import type { Registry } from "../../src/core/registry.js";
import { blobKey } from "../../src/core/storage-layout.js";
import { fakeClock } from "../support/fake-clock.js";
import { startPushScene, TEST_HOST, type PushScene } from "../support/origin-registry.js";
import { placementsOf, uploadText } from "../support/placements.js";
import { createApp } from "../../src/http/app.js";
import { observed } from "../../src/http/observability.js";

const clock = fakeClock(Date.UTC(2026, 5, 1));
let scene: PushScene;

beforeAll(async () => {
  scene = await startPushScene("replication", {
    clock,
    locations: ["us", "eu", "ap"],
    env: { PIER_STORAGE_REPLICATION: "true", PIER_STORAGE_DEFAULT_LOCATIONS: "us eu" },
  });
}, 60_000);
afterAll(async () => {
  await scene?.origin.close();
});

const sha256 = (bytes: Uint8Array) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
const storeOf = (location: string) => s3BlobStore(scene.origin.locations.get(location)!);

function context(): JobContext & { lines: string[] } {
  const lines: string[] = [];
  return { dryRun: false, lines, report: (line) => lines.push(line), reclaimed: () => {} };
}

const upload = (text: string) => uploadText(scene, text);
const placements = (digest: string) => placementsOf(scene, digest);

async function queueItem(digest: string): Promise<{ retries_remaining: number; available_after: Date; available: boolean } | null> {
  const { rows } = await scene.origin.direct.query<{ retries_remaining: number; available_after: Date; available: boolean }>(
    `SELECT q.retries_remaining, q.available_after, q.available FROM queueitem q JOIN imagestorage s
       ON q.queue_name = 'imagestoragereplication/' || s.uuid || '/' WHERE s.content_checksum = $1`,
    [digest],
  );
  return rows[0] ?? null;
}

/** Runs batches until one does nothing; every report line. */
async function replicateAll(registry: Registry = scene.origin.registry): Promise<string[]> {
  const run = context();
  for (let round = 0; round < 10; round++) if ((await runReplication(registry, run)) === 0) return run.lines;
  throw new Error("replication did not settle in 10 batches");
}

/** Every placement's object hashes to the blob's digest. */
async function expectPlacedObjectsIntact(digest: string): Promise<void> {
  for (const location of await placements(digest)) {
    const read = await storeOf(location).get(blobKey(digest)!);
    expect(read, `${digest} at ${location}`).not.toBeNull();
    expect(sha256(new Uint8Array(await new Response(read!.body).arrayBuffer()))).toBe(digest);
  }
}

/** The scene's registry with location `name`'s store replaced. */
function withStore(name: string, wrap: (store: BlobStore) => BlobStore): Registry {
  const registry = scene.origin.registry;
  const locations = new Map(registry.locations!);
  const store = locations.get(name)!;
  locations.set(name, { ...store, blobs: wrap(store.blobs) });
  return { ...registry, locations };
}

describe("replication job", () => {
  it("is off by default (Quay's FEATURE_STORAGE_REPLICATION)", () => {
    expect(replicationEnabled(loadRegistryConfig({}))).toBe(false);
    expect(replicationEnabled(scene.origin.registry.config)).toBe(true);
  });

  it("copies a pushed blob to the default locations and records the placement", async () => {
    const { digest } = await upload(`replicate me ${crypto.randomUUID()}`);
    expect(await placements(digest)).toEqual(["us"]);
    const before = await replicationStats(scene.origin.registry);
    const lines = await replicateAll();
    expect(lines).toContain(`${digest} (${`replicate me `.length + 36} bytes) copied to eu`);
    expect(await placements(digest)).toEqual(["eu", "us"]);
    expect(await storeOf("ap").stat(blobKey(digest)!)).toBeNull();
    await expectPlacedObjectsIntact(digest);
    expect(await queueItem(digest)).toBeNull();
    const after = await replicationStats(scene.origin.registry);
    expect(after.blobsCopied - before.blobsCopied).toBeGreaterThanOrEqual(1);
    expect(after.bytesCopied - before.bytesCopied).toBeGreaterThanOrEqual(49);
    expect(after.queued).toBe(0);
    expect(after.lagCount).toBeGreaterThan(before.lagCount);
  });

  it("copies to the namespace's userregion locations too", async () => {
    await scene.origin.direct.query(
      `INSERT INTO userregion (user_id, location_id)
       SELECT r.namespace_user_id, l.id FROM repository r, imagestoragelocation l WHERE r.id = $1 AND l.name = 'ap'`,
      [scene.repoId],
    );
    const { digest } = await upload(`asia too ${crypto.randomUUID()}`);
    await replicateAll();
    expect(await placements(digest)).toEqual(["ap", "eu", "us"]);
    await expectPlacedObjectsIntact(digest);
  });

  it("leaves no placement and no object when a copy is interrupted, and finishes it on a later run", async () => {
    const { digest } = await upload(`interrupted ${crypto.randomUUID()}`);
    let puts = 0;
    const failing = withStore("eu", (store) => ({
      ...store,
      put: async (key, body) => {
        puts++;
        const reader = body.getReader();
        await reader.read();
        await reader.cancel();
        throw new Error("connection reset by the storage");
      },
    }));
    const lines = await replicateAll(failing);
    expect(puts).toBeGreaterThan(0);
    expect(lines.join("\n")).toContain("connection reset by the storage");
    expect(await placements(digest)).not.toContain("eu");
    expect(await storeOf("eu").stat(blobKey(digest)!)).toBeNull();
    const item = await queueItem(digest);
    expect(item).toMatchObject({ retries_remaining: 4, available: true });
    expect(item!.available_after.getTime()).toBeGreaterThan(clock.now());

    // Not due yet: nothing happens; after the backoff the copy completes.
    await replicateAll();
    expect(await placements(digest)).not.toContain("eu");
    clock.advance(REPLICATION_DEFAULTS.backoffMs + 1000);
    await replicateAll();
    expect(await placements(digest)).toContain("eu");
    await expectPlacedObjectsIntact(digest);
  });

  it("never records a placement for bytes that do not hash to the digest", async () => {
    const { digest, bytes } = await upload(`corrupted ${crypto.randomUUID()}`);
    const key = blobKey(digest)!;
    const wrong = new Uint8Array(bytes.byteLength).fill(120);
    await storeOf("us").put(key, new Blob([wrong]).stream(), wrong.byteLength);
    const lines = await replicateAll();
    expect(lines.join("\n")).toMatch(/hashing to sha256:[0-9a-f]{64} for/);
    expect(await placements(digest)).toEqual(["us"]);
    expect(await storeOf("eu").stat(key)).toBeNull();
    // The source is repaired; the retry copies the right bytes.
    await storeOf("us").put(key, new Blob([bytes as Uint8Array<ArrayBuffer>]).stream(), bytes.byteLength);
    clock.advance(REPLICATION_DEFAULTS.backoffMs + 1000);
    await replicateAll();
    expect(await placements(digest)).toEqual(["ap", "eu", "us"]);
    await expectPlacedObjectsIntact(digest);
  });

  it("queues a pushed manifest's blobs at once, as Quay does", async () => {
    const layer = await upload(`layer ${crypto.randomUUID()}`);
    const config = await upload(JSON.stringify({ os: "linux", seed: crypto.randomUUID() }));
    expect(await queueItem(layer.digest)).toBeNull();
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: config.digest, size: config.bytes.byteLength },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: layer.digest, size: layer.bytes.byteLength }],
    });
    const put = await scene.call("PUT", `/v2/${scene.repo}/manifests/latest`, {
      body: manifest,
      headers: { "content-type": MediaType.ociManifest },
    });
    expect(put.status).toBe(201);
    for (const digest of [layer.digest, config.digest])
      expect(await queueItem(digest)).toMatchObject({ retries_remaining: 5, available: true });
    // Claimed and copied on the next run, without waiting for the sweep to come round.
    await scene.origin.registry.cache.set(REPLICATION_SWEEP_KEY, String(2 ** 30), 60);
    const run = context();
    await runReplication(scene.origin.registry, run);
    expect(await placements(layer.digest)).toEqual(["ap", "eu", "us"]);
    await expectPlacedObjectsIntact(layer.digest);
  });

  it("shows the backlog, bytes copied and lag on /metrics", async () => {
    const { registry, observability } = observed(scene.origin.registry, "origin", asyncLocalScope());
    const app = createApp(registry, { observability });
    await upload(`waiting ${crypto.randomUUID()}`);
    // Queued by the sweep, not yet copied.
    await scene.origin.registry.cache.set(REPLICATION_SWEEP_KEY, "0", 60);
    await queueMissing(registry.sql, { after: 0, last: 2 ** 30 }, registry.config, clock.now());
    const response = await app.request(`https://${TEST_HOST}/metrics`, {}, { incoming: { socket: { remoteAddress: "127.0.0.1" } } });
    expect(response.status).toBe(200);
    const text = await response.text();
    const stats = await replicationStats(registry);
    expect(stats.queued).toBeGreaterThan(0);
    expect(text).toContain(`pier_replication_backlog{state="queued"} ${stats.queued}\n`);
    expect(text).toContain(`pier_replication_bytes_total ${stats.bytesCopied}\n`);
    expect(stats.bytesCopied).toBeGreaterThan(0);
    expect(text).toMatch(/pier_replication_lag_seconds_count [1-9]\d*\n/);
    await replicateAll();
  });

  it("lets two runners split the work without copying a blob twice", async () => {
    const digests: string[] = [];
    for (let n = 0; n < 4; n++) digests.push((await upload(`split ${n} ${crypto.randomUUID()}`)).digest);
    const copies = new Map<string, number>();
    const counting = () =>
      withStore("eu", (store) => ({
        ...store,
        copy: async (from, to) => {
          copies.set(to, (copies.get(to) ?? 0) + 1);
          return store.copy(from, to);
        },
      }));
    await Promise.all([replicateAll(counting()), replicateAll(counting())]);
    for (const digest of digests) {
      expect(copies.get(blobKey(digest)!), digest).toBe(1);
      expect(await placements(digest)).toEqual(["ap", "eu", "us"]);
    }
  });
});
