/**
 * Redis is a cache, PostgreSQL the truth: with a fault proxy in front of the real Redis,
 * pushes (uploads, mounts, first push, manifest PUT) still succeed, and the cache never
 * serves an answer older than the documented bound — not after an outage in which the
 * writers' generation bumps failed, nor after Redis comes back from an old snapshot.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MediaType } from "../../src/core/model/media-types.js";
import { generationKey, PullCache } from "../../src/core/resources/pull-cache.js";
import { createApp } from "../../src/http/app.js";
import { countingCache } from "../support/counting.js";
import { fakeClock } from "../support/fake-clock.js";
import type { FaultProxy } from "../support/fault-proxy.js";
import { startPushScene, TEST_HOST, type PushScene } from "../support/origin-registry.js";
import { unique } from "../support/quay-seed.js";

const clock = fakeClock(Date.now());
let redis: FaultProxy;
let scene: PushScene;

const sha256 = (bytes: Uint8Array | string) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

async function blob(repo: string, content: string) {
  const digest = sha256(content);
  const response = await scene.call("POST", `/v2/${repo}/blobs/uploads/?digest=${digest}`, { body: content });
  expect(response.status).toBe(201);
  return { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest, size: Buffer.byteLength(content) };
}

/** An OCI image manifest over two freshly uploaded blobs. */
async function image(repo: string, seed: string) {
  const config = { ...(await blob(repo, JSON.stringify({ os: "linux", seed }))), mediaType: "application/vnd.oci.image.config.v1+json" };
  const text = JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociManifest, config, layers: [await blob(repo, `layer ${seed}`)] });
  return { text, digest: sha256(text) };
}

function putManifest(repo: string, tag: string, text: string): Promise<Response> {
  return scene.call("PUT", `/v2/${repo}/manifests/${tag}`, { body: text, headers: { "content-type": MediaType.ociManifest } });
}

/** The digest a fresh isolate (another process) is served for `repo:tag`. */
async function servedDigest(repo: string, tag: string, app = createApp(scene.origin.registry)): Promise<string | null> {
  const response = await app.request(`https://${TEST_HOST}/v2/${repo}/manifests/${tag}`, {
    headers: { accept: MediaType.ociManifest, authorization: `Bearer ${scene.writer}` },
  });
  expect(response.status).toBe(200);
  return response.headers.get("docker-content-digest");
}

/** The bound: how long a Redis answer is served before PostgreSQL is asked again. */
const maxAgeMs = () => scene.origin.registry.config.sharedCacheMaxAgeMs;

/** Waits until the registry's Redis client is connected again (it reconnects with a backoff). */
async function redisAnswers(): Promise<void> {
  for (let tries = 0; tries < 100; tries++) {
    if (
      await scene.origin.registry.cache.get("pier:probe").then(
        () => true,
        () => false,
      )
    )
      return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error("Redis did not come back through the proxy");
}

beforeAll(async () => {
  scene = await startPushScene("redisout", { clock, faultProxies: true });
  redis = scene.origin.faults!.cache;
}, 60_000);
afterAll(async () => {
  await scene?.origin.close();
});

describe("pushes with Redis down", () => {
  it("uploads (monolithic, chunked, mount), first push and manifest PUT all succeed; pulls read PostgreSQL", async () => {
    redis.down();
    try {
      const bytes = "chunked while redis is down";
      const start = await scene.call("POST", `/v2/${scene.repo}/blobs/uploads/`);
      expect(start.status).toBe(202);
      const patched = await scene.call("PATCH", start.headers.get("location")!, {
        body: bytes,
        headers: { "content-range": `0-${bytes.length - 1}` },
      });
      expect(patched.status).toBe(202);
      const done = await scene.call("PUT", `${patched.headers.get("location")!}?digest=${sha256(bytes)}`);
      expect(done.status).toBe(201);

      const pushed = await image(scene.repo, "redis-down");
      const put = await putManifest(scene.repo, "down", pushed.text);
      expect(put.status).toBe(201);
      expect(put.headers.get("docker-content-digest")).toBe(pushed.digest);
      expect(await servedDigest(scene.repo, "down")).toBe(pushed.digest);

      // First push into a new repository (created by the push), and a mount into it.
      const fresh = `${scene.namespace}/${unique("new")}`;
      const token = await scene.origin.token("writer", { [fresh]: ["pull", "push"], [scene.repo]: ["pull"] });
      const mounted = await scene.call("POST", `/v2/${fresh}/blobs/uploads/?mount=${sha256(bytes)}&from=${scene.repo}`, { token });
      expect(mounted.status).toBe(201);
      const head = await scene.call("HEAD", `/v2/${fresh}/blobs/${sha256(bytes)}`, { token });
      expect(head.status).toBe(200);
      expect(head.headers.get("content-length")).toBe(String(bytes.length));
    } finally {
      redis.pass();
    }
  });
});

describe("pushes with Redis frozen", () => {
  it("a manifest PUT and a blob upload answer 201 within 3 s while Redis holds every command", async () => {
    const pushed = await image(scene.repo, "frozen");
    redis.freeze();
    try {
      const started = Date.now();
      const bytes = "uploaded while redis is frozen";
      const upload = await scene.call("POST", `/v2/${scene.repo}/blobs/uploads/?digest=${sha256(bytes)}`, { body: bytes });
      expect(upload.status).toBe(201);
      const put = await putManifest(scene.repo, "frozen", pushed.text);
      expect(put.status).toBe(201);
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      redis.pass();
    }
    await redisAnswers();
  });
});

describe("bumps with Redis frozen", () => {
  it("a write touching many repositories pays one cache timeout, and the bumps go in together once Redis answers", async () => {
    const counted = countingCache(scene.origin.registry.cache);
    const cache = new PullCache({ cache: counted.target, clock });
    const repositories = Array.from({ length: 20 }, (_, i) => `${scene.namespace}/many${i}`);
    redis.freeze();
    try {
      for (const repository of repositories) await cache.bump(repository);
      expect(counted.count()).toBe(1);
    } finally {
      redis.pass();
    }
    await redisAnswers();
    const before = await scene.origin.registry.cache.getMany(repositories.map(generationKey));
    clock.advance(5_000);
    await cache.read(repositories[0]!, PullCache.key(repositories[0]!, "probe"), async () => ({
      value: 1,
      validUntil: null,
      negative: false,
    }));
    const after = await scene.origin.registry.cache.getMany(repositories.map(generationKey));
    expect(after.every((generation, i) => generation !== null && generation !== before[i])).toBe(true);
  });
});

describe("coherence when bumps fail", () => {
  /** Pushes `first` on `tag` and fills Redis with it, then moves the tag to `second` while Redis is down. */
  async function moveTagDuringOutage(tag: string) {
    const first = await image(scene.repo, `${tag}-before`);
    const second = await image(scene.repo, `${tag}-after`);
    expect((await putManifest(scene.repo, tag, first.text)).status).toBe(201);
    expect(await servedDigest(scene.repo, tag)).toBe(first.digest);
    expect(await scene.origin.registry.cache.get(`pier:e:${scene.repo}\u0000tag\u0000${tag}`)).not.toBeNull();

    redis.down();
    const moved = await putManifest(scene.repo, tag, second.text);
    expect(moved.status).toBe(201);
    const { rows } = await scene.origin.direct.query<{ digest: string }>(
      `SELECT m.digest FROM tag t JOIN manifest m ON m.id = t.manifest_id
       WHERE t.repository_id = $1 AND t.name = $2 AND t.lifetime_end_ms IS NULL`,
      [scene.repoId, tag],
    );
    expect(rows).toEqual([{ digest: second.digest }]);
    redis.pass();
    await redisAnswers();
    return { first, second };
  }

  it("a tag moved while Redis was down is served by every reader within the bound, with no help from the writer", async () => {
    const filledAt = clock.now();
    const { second } = await moveTagDuringOutage("bounded");
    clock.set(filledAt + maxAgeMs());
    expect(await servedDigest(scene.repo, "bounded")).toBe(second.digest);
  });

  it("the writer retries its failed bump with its next cache call, after which every reader sees the move at once", async () => {
    const { first, second } = await moveTagDuringOutage("retried");
    // Redis is back with the old generation: a reader in another process still gets the old entry.
    expect(await servedDigest(scene.repo, "retried")).toBe(first.digest);
    clock.advance(5_000); // the writer's cooldown after its failed bump
    expect((await scene.call("GET", `/v2/${scene.repo}/manifests/other`)).status).toBe(404);
    expect(await servedDigest(scene.repo, "retried")).toBe(second.digest);
  });

  it("after Redis returns from an old snapshot (old generation and entries written back), the old digest is never served past the bound", async () => {
    const first = await image(scene.repo, "snap-before");
    const second = await image(scene.repo, "snap-after");
    expect((await putManifest(scene.repo, "snap", first.text)).status).toBe(201);
    const filledAt = clock.now();
    expect(await servedDigest(scene.repo, "snap")).toBe(first.digest);
    // The snapshot: every key of this repository as Redis holds it now.
    const keys = [`pier:gen:${scene.repo}`, `pier:e:${scene.repo}\u0000tag\u0000snap`];
    const snapshot = await scene.origin.registry.cache.getMany(keys);
    expect(snapshot.every((v) => v !== null)).toBe(true);

    expect((await putManifest(scene.repo, "snap", second.text)).status).toBe(201);
    expect(await servedDigest(scene.repo, "snap")).toBe(second.digest);

    // Redis restarts from the snapshot: the old generation and entry are back.
    for (const [i, key] of keys.entries()) await scene.origin.registry.cache.set(key, snapshot[i]!, 3600);
    clock.set(filledAt + maxAgeMs());
    expect(await servedDigest(scene.repo, "snap")).toBe(second.digest);
  });
});
