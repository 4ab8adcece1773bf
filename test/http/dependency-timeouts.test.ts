/**
 * A frozen dependency (a SIGSTOPped server or a network partition: connections accepted,
 * no bytes back) must not hang requests: each answers 503 UNAVAILABLE within a bound of
 * its timeout, and the next requests after the dependency recovers succeed. The
 * registry reaches PostgreSQL, Redis and S3 through fault proxies (test/support/fault-proxy.ts).
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MediaType } from "../../src/core/model/media-types.js";
import { blobKey } from "../../src/core/storage-layout.js";
import { startPushScene, TEST_HOST, type PushScene } from "../support/origin-registry.js";

const timeouts = { sqlMs: 1_000, sqlPoolWaitMs: 1_000, cacheMs: 300, storageMs: 1_000 };
/** Generous on a loaded 2-core machine: the client gives up at sqlMs + 1 s. */
const BOUND_MS = 6_000;

let scene: PushScene;
const sha256 = (bytes: Uint8Array | string) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

async function pushImage(seed: string): Promise<{ manifest: string; layer: string }> {
  const config = JSON.stringify({ architecture: "amd64", os: "linux", seed });
  const layer = `layer bytes of ${seed}`.repeat(4096);
  for (const body of [config, layer]) {
    const response = await scene.call("POST", `/v2/${scene.repo}/blobs/uploads/?digest=${sha256(body)}`, { body });
    expect(response.status).toBe(201);
  }
  const descriptor = (body: string, mediaType: string) => ({ mediaType, digest: sha256(body), size: Buffer.byteLength(body) });
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: descriptor(config, "application/vnd.oci.image.config.v1+json"),
    layers: [descriptor(layer, "application/vnd.oci.image.layer.v1.tar+gzip")],
  });
  const put = await scene.call("PUT", `/v2/${scene.repo}/manifests/${seed}`, {
    body: manifest,
    headers: { "content-type": MediaType.ociManifest },
  });
  expect(put.status).toBe(201);
  return { manifest: sha256(manifest), layer: sha256(layer) };
}

async function timed(request: () => Promise<Response>): Promise<{ response: Response; ms: number; body: string }> {
  const started = Date.now();
  const response = await request();
  const body = await response.text();
  return { response, ms: Date.now() - started, body };
}

async function expectUnavailable(request: () => Promise<Response>, family: "v2" | "api"): Promise<number> {
  const { response, ms, body } = await timed(request);
  expect(response.status, body).toBe(503);
  // HEAD answers carry no body.
  if (body !== "") {
    const expected = family === "v2" ? { errors: [{ code: "UNAVAILABLE" }] } : { status: 503, error_type: "downstream_issue" };
    expect(JSON.parse(body)).toMatchObject(expected);
  }
  expect(ms).toBeLessThan(BOUND_MS);
  return ms;
}

async function startUpload(): Promise<string> {
  const start = await scene.call("POST", `/v2/${scene.repo}/blobs/uploads/`);
  expect(start.status).toBe(202);
  return start.headers.get("location")!;
}

beforeAll(async () => {
  scene = await startPushScene("deadlines", { faultProxies: true, timeouts });
}, 60_000);
afterAll(() => scene?.origin.close());

describe("with PostgreSQL frozen", () => {
  it("manifest GET, blob GET and HEAD, upload PATCH and an /api/v1 call answer 503 in time, then recover", async () => {
    const image = await pushImage("pg-frozen");
    const upload = await startUpload();
    const database = scene.origin.faults!.database;
    database.freeze();
    try {
      await Promise.all([
        expectUnavailable(() => scene.call("GET", `/v2/${scene.repo}/manifests/${image.manifest}`), "v2"),
        expectUnavailable(() => scene.call("GET", `/v2/${scene.repo}/blobs/${image.layer}`), "v2"),
        expectUnavailable(() => scene.call("HEAD", `/v2/${scene.repo}/blobs/${image.layer}`), "v2"),
        expectUnavailable(() => scene.call("PATCH", upload, { body: "chunk" }), "v2"),
        expectUnavailable(() => scene.call("GET", `/api/v1/repository/${scene.repo}`, { token: null }), "api"),
        // An anonymous token without grants: public content the pull cache holds stays pullable.
        scene.call("GET", `/v2/auth?service=${TEST_HOST}&scope=repository:${scene.repo}:pull`, { token: null }).then(async (reply) => {
          expect(reply.status).toBe(200);
          const { token } = (await reply.json()) as { token: string };
          expect(JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()).access).toEqual([]);
        }),
      ]);
    } finally {
      database.pass();
    }
    expect((await scene.call("GET", `/v2/${scene.repo}/manifests/${image.manifest}`)).status).toBe(200);
    expect((await scene.call("GET", `/v2/${scene.repo}/blobs/${image.layer}`)).status).toBe(302);
    expect((await scene.call("PATCH", await startUpload(), { body: "chunk" })).status).toBe(202);
    expect((await scene.call("GET", `/api/v1/repository/${scene.repo}`, { token: null })).status).toBeLessThan(500);
  });
});

describe("with S3 frozen", () => {
  it("upload PATCH and monolithic POST answer 503 in time, reads served from the database still work, then uploads recover", async () => {
    const image = await pushImage("s3-frozen");
    const upload = await startUpload();
    const storage = scene.origin.faults!.storage;
    const body = "bytes written while storage is frozen";
    storage.freeze();
    try {
      await Promise.all([
        expectUnavailable(() => scene.call("PATCH", upload, { body }), "v2"),
        expectUnavailable(() => scene.call("POST", `/v2/${scene.repo}/blobs/uploads/?digest=${sha256(body)}`, { body }), "v2"),
      ]);
      // Manifests and blob redirects come from the database alone.
      expect((await scene.call("GET", `/v2/${scene.repo}/manifests/${image.manifest}`)).status).toBe(200);
      expect((await scene.call("HEAD", `/v2/${scene.repo}/blobs/${image.layer}`)).status).toBe(200);
    } finally {
      storage.pass();
    }
    expect((await scene.call("HEAD", `/v2/${scene.repo}/blobs/${sha256(body)}`)).status).toBe(404);
    const retried = await scene.call("POST", `/v2/${scene.repo}/blobs/uploads/?digest=${sha256(body)}`, { body });
    expect(retried.status).toBe(201);
    const stored = await scene.origin.registry.blobs.get(blobKey(sha256(body))!);
    expect(await new Response(stored!.body).text()).toBe(body);
  });
});

describe("with Redis frozen", () => {
  it("requests still answer in time from the database and storage", async () => {
    const image = await pushImage("redis-frozen");
    const cache = scene.origin.faults!.cache;
    cache.freeze();
    try {
      const answers = await Promise.all([
        timed(() => scene.call("GET", `/v2/${scene.repo}/manifests/${image.manifest}`)),
        timed(() => scene.call("HEAD", `/v2/${scene.repo}/blobs/${image.layer}`)),
        timed(async () => scene.call("PATCH", await startUpload(), { body: "chunk" })),
        timed(() => scene.call("GET", `/api/v1/repository/${scene.repo}`, { token: null })),
      ]);
      expect(answers.map((a) => a.response.status)).toEqual([200, 200, 202, expect.any(Number)]);
      expect(answers[3]!.response.status).toBeLessThan(500);
      for (const answer of answers) expect(answer.ms).toBeLessThan(BOUND_MS);
    } finally {
      cache.pass();
    }
  });
});
