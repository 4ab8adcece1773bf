/**
 * Several storage locations, each its own S3 server and bucket: a push places the blob
 * in the writer's location only; the blob redirect goes to the preferred location holding
 * a placement and falls back to any that has one (a blob not yet replicated is served);
 * streaming skips a location whose object is missing; GC deletes the object at every
 * placement.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { s3BlobStore } from "../../src/adapters/blob/s3.js";
import { collectGarbage } from "../../src/core/jobs/gc.js";
import type { JobContext } from "../../src/core/jobs/scheduler.js";
import type { Registry } from "../../src/core/registry.js";
import { blobKey } from "../../src/core/storage-layout.js";
import { createApp } from "../../src/http/app.js";
import { fakeClock } from "../support/fake-clock.js";
import { startPushScene, TEST_HOST, type PushScene } from "../support/origin-registry.js";
import { placementsOf, uploadText } from "../support/placements.js";

const clock = fakeClock(Date.UTC(2026, 5, 1));
let scene: PushScene;

beforeAll(async () => {
  scene = await startPushScene("georep", { clock, locations: ["us", "eu"] });
}, 60_000);
afterAll(async () => {
  await scene?.origin.close();
});

const sha256 = (bytes: Uint8Array) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
const storeOf = (location: string) => s3BlobStore(scene.origin.locations.get(location)!);
const endpointOf = (location: string) => scene.origin.locations.get(location)!.endpoint;

const upload = (text: string) => uploadText(scene, text);
const placements = (digest: string) => placementsOf(scene, digest);

/** What the replication job does for one blob: the object copied, then the placement recorded. */
async function replicate(digest: string, to: string, options: { object: boolean } = { object: true }): Promise<void> {
  if (options.object) {
    const read = await storeOf("us").get(blobKey(digest)!);
    await storeOf(to).put(blobKey(digest)!, read!.body, read!.size);
  }
  await scene.origin.direct.query(
    `INSERT INTO imagestorageplacement (storage_id, location_id)
     SELECT s.id, l.id FROM imagestorage s, imagestoragelocation l WHERE s.content_checksum = $1 AND l.name = $2`,
    [digest, to],
  );
}

/** The scene's registry reading in another preference order (as another region's deployment would). */
function preferring(order: string[], options: { signed: boolean } = { signed: true }): Registry {
  const registry = scene.origin.registry;
  const locations = new Map(
    [...registry.locations!].map(([name, store]) => [name, { blobs: store.blobs, signer: options.signed ? store.signer : null }]),
  );
  return {
    ...registry,
    signer: options.signed ? registry.signer : null,
    locations,
    config: { ...registry.config, storage: { ...registry.config.storage, preference: order } },
  };
}

async function get(registry: Registry, digest: string): Promise<Response> {
  const token = await scene.origin.token("writer", { [scene.repo]: ["pull"] });
  return createApp(registry).request(`https://${TEST_HOST}/v2/${scene.repo}/blobs/${digest}`, {
    headers: { authorization: `Bearer ${token}` },
  });
}

describe("geo-replication: placements and reads", () => {
  it("places a pushed blob in the writer's location only, and redirects there", async () => {
    const { digest } = await upload(`only in us ${crypto.randomUUID()}`);
    expect(await placements(digest)).toEqual(["us"]);
    expect(await storeOf("us").stat(blobKey(digest)!)).not.toBeNull();
    expect(await storeOf("eu").stat(blobKey(digest)!)).toBeNull();
    const response = await get(scene.origin.registry, digest);
    expect(response.status).toBe(302);
    expect(response.headers.get("location")).toMatch(new RegExp(`^${endpointOf("us")}/pier/`));
  });

  it("falls back to a location that has the blob when the preferred one has no placement yet", async () => {
    const { digest } = await upload(`not replicated ${crypto.randomUUID()}`);
    const response = await get(preferring(["eu", "us"]), digest);
    expect(response.status).toBe(302);
    expect(response.headers.get("location")).toMatch(new RegExp(`^${endpointOf("us")}/pier/`));
  });

  it("redirects to the first location of the preference that holds a placement", async () => {
    const { digest, bytes } = await upload(`replicated ${crypto.randomUUID()}`);
    await replicate(digest, "eu");
    expect(await placements(digest)).toEqual(["eu", "us"]);
    const eu = await get(preferring(["eu", "us"]), digest);
    expect(eu.status).toBe(302);
    expect(eu.headers.get("location")).toMatch(new RegExp(`^${endpointOf("eu")}/pier/`));
    const fetched = await fetch(eu.headers.get("location")!);
    expect(new Uint8Array(await fetched.arrayBuffer())).toEqual(bytes);
    const us = await get(preferring(["us", "eu"]), digest);
    expect(us.headers.get("location")).toMatch(new RegExp(`^${endpointOf("us")}/pier/`));
  });

  it("streams from the next location when the preferred placement's object is missing", async () => {
    const { digest, bytes } = await upload(`lost copy ${crypto.randomUUID()}`);
    await replicate(digest, "eu", { object: false });
    const response = await get(preferring(["eu", "us"], { signed: false }), digest);
    expect(response.status).toBe(200);
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(bytes);
  });

  it("GC deletes the object at every location holding a placement", async () => {
    const { digest } = await upload(`collected everywhere ${crypto.randomUUID()}`);
    await replicate(digest, "eu");
    clock.advance(3 * 3600_000);
    const lines: string[] = [];
    const context: JobContext = { dryRun: false, report: (line) => lines.push(line), reclaimed: () => {} };
    for (let round = 0; round < 20 && (await collectGarbage(scene.origin.registry, context)) > 0; round++);
    expect(lines.join("\n")).not.toContain("cannot reach");
    expect(await placements(digest)).toEqual([]);
    expect(await storeOf("us").stat(blobKey(digest)!)).toBeNull();
    expect(await storeOf("eu").stat(blobKey(digest)!)).toBeNull();
  });
});
