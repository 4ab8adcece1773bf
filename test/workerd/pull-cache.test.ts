/**
 * The pull path's cache inside workerd, against real Redis (Upstash REST gateway) and
 * PostgreSQL (Neon HTTP): round-trip budgets, collapse of concurrent misses, coherence
 * with writes, the staleness bound, and fallback when either service fails.
 */
import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { upstashCache } from "../../src/adapters/cache/upstash.js";
import { issueRegistryToken } from "../../src/core/auth/registry-tokens.js";
import { createInstanceKey, serviceKeys } from "../../src/core/auth/service-keys.js";
import { MediaType } from "../../src/core/model/media-types.js";
import type { Cache } from "../../src/core/ports/cache.js";
import { SqlError, SqlState, type Sql } from "../../src/core/ports/sql.js";
import type { Registry } from "../../src/core/registry.js";
import { PullCache } from "../../src/core/resources/pull-cache.js";
import { createApp } from "../../src/http/app.js";
import { edgeRegistry } from "../../workers/edge.js";
import { countingCache, countingSql } from "../support/counting.js";
import { fakeClock } from "../support/fake-clock.js";
import { seedPullFixture, type PullFixture } from "../support/pull-fixture.js";
import { storeImage, tagManifest } from "../support/quay-seed.js";

const ACCEPT = { accept: Object.values(MediaType).join(", ") };
const clock = fakeClock(Date.now());
const base: Registry = { ...edgeRegistry(env), clock };
const sql = countingSql(base.sql);
const cache = countingCache(base.cache);
const registry: Registry = { ...base, sql: sql.target, cache: cache.target };
/** What a writer does after its commit. */
const writer = new PullCache({ cache: base.cache, clock });
let fx: PullFixture;

async function get(app: ReturnType<typeof createApp>, path: string, init: RequestInit = {}): Promise<Response> {
  return app.request(`https://registry.example${path}`, { ...init, headers: { ...ACCEPT, ...(init.headers as object) } });
}

function resetCounts(): void {
  sql.reset();
  cache.reset();
}

beforeAll(async () => {
  fx = await seedPullFixture({ sql: base.sql, blobs: base.blobs }, clock.now());
}, 60_000);

describe("round trips", () => {
  it("cold: one SQL query; warm in another isolate: no query and one Redis round trip; warm in the isolate: nothing", async () => {
    await writer.bump(fx.app);
    const first = createApp(registry);
    resetCounts();
    expect((await get(first, `/v2/${fx.app}/manifests/v1`)).status).toBe(200);
    expect(sql.count()).toBe(1);

    const second = createApp(registry);
    resetCounts();
    const warm = await get(second, `/v2/${fx.app}/manifests/v1`);
    expect(await warm.text()).toBe(fx.oci.manifest.text);
    expect(sql.count()).toBe(0);
    expect(cache.count()).toBe(1);

    resetCounts();
    expect((await get(second, `/v2/${fx.app}/manifests/v1`)).status).toBe(200);
    expect(sql.count()).toBe(0);
    expect(cache.count()).toBe(0);
  });

  it("costs one query cold for a manifest by digest, a blob HEAD and a missing tag", async () => {
    for (const path of [
      `/v2/${fx.app}/manifests/${fx.docker.manifest.digest}`,
      `/v2/${fx.app}/blobs/${fx.docker.layers[0]!.digest}`,
      `/v2/${fx.app}/manifests/absent`,
    ]) {
      await writer.bump(fx.app);
      resetCounts();
      await get(createApp(registry), path, { method: "HEAD" });
      expect(sql.count(), path).toBe(1);
      resetCounts();
      await get(createApp(registry), path, { method: "HEAD" });
      expect(sql.count(), `${path} (warm)`).toBe(0);
      expect(cache.count(), `${path} (warm)`).toBe(1);
    }
  });

  it("collapses concurrent misses in one isolate into one query", async () => {
    await writer.bump(fx.app);
    const app = createApp(registry);
    resetCounts();
    const responses = await Promise.all(Array.from({ length: 10 }, () => get(app, `/v2/${fx.app}/manifests/docker`)));
    expect(responses.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(sql.count()).toBe(1);
  });
});

describe("coherence", () => {
  it("shows a moved tag to other isolates once the writer bumps, and to this isolate within the staleness bound", async () => {
    const manyId = (
      await base.sql.query<{ id: number }>(
        `SELECT id FROM repository WHERE name = 'app' AND namespace_user_id = (SELECT id FROM "user" WHERE username = $1)`,
        [fx.namespace],
      )
    ).rows[0]!.id;
    await tagManifest({ sql: base.sql, blobs: base.blobs }, manyId, "flip", fx.oci.manifest.id);
    await writer.bump(fx.app);
    const reader = createApp(registry);
    expect((await get(reader, `/v2/${fx.app}/manifests/flip`)).headers.get("docker-content-digest")).toBe(fx.oci.manifest.digest);
    const filled = await base.cache.getMany([`pier:e:${fx.app}\u0000tag\u0000flip`]);
    expect(filled[0]).not.toBeNull();

    // The writer moves the tag the way Quay does (end the old row, start a new one), then bumps.
    const now = clock.now();
    await base.sql.query(`UPDATE tag SET lifetime_end_ms = $1 WHERE repository_id = $2 AND name = 'flip' AND lifetime_end_ms IS NULL`, [
      now,
      manyId,
    ]);
    await tagManifest({ sql: base.sql, blobs: base.blobs }, manyId, "flip", fx.docker.manifest.id, { startMs: now });
    await writer.bump(fx.app);
    // A fill that raced the write lands after the bump: its generation is stale, so it is ignored.
    await base.cache.set(`pier:e:${fx.app}\u0000tag\u0000flip`, filled[0]!, 60);

    const otherIsolate = createApp(registry);
    expect((await get(otherIsolate, `/v2/${fx.app}/manifests/flip`)).headers.get("docker-content-digest")).toBe(fx.docker.manifest.digest);

    expect((await get(reader, `/v2/${fx.app}/manifests/flip`)).headers.get("docker-content-digest")).toBe(fx.oci.manifest.digest);
    clock.advance(registry.config.isolateCacheMs);
    expect((await get(reader, `/v2/${fx.app}/manifests/flip`)).headers.get("docker-content-digest")).toBe(fx.docker.manifest.digest);
  });

  it("drops negative entries when the writer bumps", async () => {
    const app = createApp(registry);
    expect((await get(app, `/v2/${fx.other}/manifests/late`)).status).toBe(404);
    const otherId = (
      await base.sql.query<{ id: number }>(
        `SELECT id FROM repository WHERE name = 'other' AND namespace_user_id = (SELECT id FROM "user" WHERE username = $1)`,
        [fx.namespace],
      )
    ).rows[0]!.id;
    const image = await storeImage({ sql: base.sql, blobs: base.blobs }, otherId, { layerSizes: [8] });
    await tagManifest({ sql: base.sql, blobs: base.blobs }, otherId, "late", image.manifest.id);
    await writer.bump(fx.other);
    expect((await get(createApp(registry), `/v2/${fx.other}/manifests/late`)).status).toBe(200);
  });
});

/** A cache whose every call fails the way `fail` says (fault injection). */
function faultyCache(fail: () => Promise<never>): Cache & { calls: number } {
  const faulty = {
    calls: 0,
    get: () => call(),
    getMany: () => call(),
    set: () => call(),
    setIfAbsent: () => call(),
    delete: () => call(),
    increment: () => call(),
    addToFields: () => call(),
    readFields: () => call(),
    close: async () => {},
  };
  function call(): Promise<never> {
    faulty.calls++;
    return fail();
  }
  return faulty;
}

describe("failures", () => {
  it("reads from the database when Redis refuses connections, then leaves Redis alone for the cooldown", async () => {
    const unreachable = countingCache(upstashCache({ url: "http://127.0.0.1:9", token: "x" }));
    const app = createApp({ ...registry, cache: unreachable.target });
    const response = await get(app, `/v2/${fx.app}/manifests/v1`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe(fx.oci.manifest.text);
    expect(unreachable.count()).toBe(1);
    const blob = await get(app, `/v2/${fx.app}/blobs/${fx.oci.layers[0]!.digest}`, { method: "HEAD" });
    expect(blob.status).toBe(200);
    expect(unreachable.count()).toBe(1);
  });

  it("bounds a hanging Redis by the cache timeout", async () => {
    const hanging = faultyCache(() => new Promise<never>(() => {}));
    const app = createApp({ ...registry, cache: hanging });
    const started = Date.now();
    const response = await get(app, `/v2/${fx.app}/manifests/docker`);
    expect(response.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(hanging.calls).toBe(1);
  });

  it("keeps serving cached manifests while PostgreSQL is down, and fails uncached reads cleanly", async () => {
    await get(createApp(registry), `/v2/${fx.app}/manifests/multi`);
    // What every SQL adapter reports when the server cannot be reached.
    const refused = () => Promise.reject(new SqlError("connect ECONNREFUSED 127.0.0.1:5432", SqlState.connectionFailure));
    const down: Sql = { query: refused, transaction: refused, close: async () => {} };
    const app = createApp({ ...registry, sql: down });
    const cached = await get(app, `/v2/${fx.app}/manifests/multi`);
    expect(cached.status).toBe(200);
    expect(await cached.text()).toBe(fx.index.text);

    const uncached = await get(app, `/v2/${fx.app}/manifests/never-cached`);
    expect(uncached.status).toBe(503);
    expect(((await uncached.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe("UNAVAILABLE");
  });
});

describe("PostgreSQL down (stale-if-error)", () => {
  it("serves Redis answers past their freshness in a fresh isolate, public and private (key verified before), and 503 for the rest", async () => {
    let down = false;
    const refused = () => Promise.reject(new SqlError("connect ECONNREFUSED 127.0.0.1:5432", SqlState.connectionFailure));
    const switchable: Sql = {
      query: (text, params) => (down ? refused() : base.sql.query(text, params)),
      transaction: (fn) => (down ? refused() : base.sql.transaction(fn)),
      close: async () => {},
    };
    const key = await createInstanceKey(base.sql, clock, "https://registry.example");
    const token = await issueRegistryToken(key.signing, clock, {
      audience: "registry.example",
      subject: "reader",
      access: [{ type: "repository", name: fx.secret, actions: ["pull"] }],
      context: {},
    });
    const edge: Registry = { ...registry, sql: switchable, keys: serviceKeys({ sql: switchable, clock }) };
    const bearer = { authorization: `Bearer ${token}` };
    await writer.bump(fx.app);
    await writer.bump(fx.secret);
    expect((await get(createApp(edge), `/v2/${fx.app}/manifests/docker`)).status).toBe(200);
    expect((await get(createApp(edge), `/v2/${fx.secret}/manifests/v1`, { headers: bearer })).status).toBe(200);

    down = true;
    clock.advance(10 * 60_000);
    const reader = createApp(edge);
    const cached = await get(reader, `/v2/${fx.app}/manifests/docker`);
    expect(cached.status).toBe(200);
    expect(await cached.text()).toBe(fx.docker.manifest.text);
    const secret = await get(reader, `/v2/${fx.secret}/manifests/v1`, { headers: bearer });
    expect(secret.status).toBe(200);
    expect((await get(reader, `/v2/${fx.secret}/manifests/v1`)).status).toBe(401);
    const uncached = await get(reader, `/v2/${fx.app}/manifests/not-cached-anywhere`);
    expect(uncached.status).toBe(503);
  });
});

describe("concurrency across requests", () => {
  it("serves concurrent cold requests through the Worker entry without sharing I/O between requests", async () => {
    const worker = (exports as unknown as { default: { fetch(request: Request): Promise<Response> } }).default;
    await writer.bump(fx.app);
    await writer.bump(fx.many);
    const paths = [`/v2/${fx.app}/manifests/v1`, `/v2/${fx.many}/tags/list`, `/v2/${fx.app}/blobs/${fx.oci.layers[0]!.digest}`];
    const responses = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        worker.fetch(new Request(`https://registry.example${paths[i % 3]}`, { headers: ACCEPT, method: i % 3 === 2 ? "HEAD" : "GET" })),
      ),
    );
    expect(responses.map((r) => r.status)).toEqual(Array.from({ length: 30 }, () => 200));
  });
});
