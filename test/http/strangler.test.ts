/**
 * The strangler front (docs/strangler.md) in front of a real legacy registry — Debian's
 * docker-registry, whose answers differ from Pier's (no auth: 200 on /v2/, 404 for an
 * unknown repository, where Pier asks for a token) — with its rules in the real Redis.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import { createServer, type Server } from "node:net";
import type { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { redisCache } from "../../src/adapters/cache/redis.js";
import { loadRegistryConfig } from "../../src/core/config.js";
import { prefixedCache } from "../../src/core/prefixed-cache.js";
import type { Registry } from "../../src/core/registry.js";
import { FRONT_RULES_KEY } from "../../src/core/routing/store.js";
import { createApp } from "../../src/http/app.js";
import { nodeForwardFetch } from "../../src/runtime/forward-fetch.js";
import { freePort } from "../support/edge-server.js";
import { startApiHarness, type ApiHarness } from "../support/api-harness.js";
import { createNamespace, createRepository, storeManifest, tagManifest, unique } from "../support/quay-seed.js";
import { REDIS_URL } from "../support/services.js";
import { pushImage, startUpstreamRegistry, type PushedImage, type UpstreamRegistryProcess } from "../support/upstream-registry.js";

const HOST = "https://registry.test";
const REFRESH_MS = 300;
let legacy: UpstreamRegistryProcess;
let legacyImage: PushedImage;
let api: ApiHarness;
const redis = redisCache({ url: REDIS_URL });
const prefix = `${unique("front")}:`;

/** A front over `legacyUrl`, its rules in Redis under this file's prefix (every front built here shares them). */
function front(legacyUrl: string, env: Record<string, string> = {}): Hono {
  const config = loadRegistryConfig({
    PIER_SERVER_HOSTNAME: "registry.test",
    PIER_URL_SCHEME: "https",
    PIER_SUPER_USERS: api.root.username,
    PIER_LEGACY_URL: legacyUrl,
    PIER_FRONT_REFRESH_MS: String(REFRESH_MS),
    ...env,
  });
  const registry: Registry = { ...api.registry, config, cache: prefixedCache(redis, prefix) };
  return createApp(registry, { forwardFetch: nodeForwardFetch });
}

let app: Hono;

function send(target: Hono, method: string, path: string, init: { headers?: Record<string, string>; body?: BodyInit | null } = {}) {
  return target.request(`${HOST}${path}`, {
    method,
    headers: init.headers,
    body: init.body,
    ...(init.body instanceof ReadableStream && { duplex: "half" }),
  } as RequestInit);
}

async function putRules(target: Hono, rules: unknown, auth = api.root.basic): Promise<Response> {
  return send(target, "PUT", "/api/v1/superuser/front", {
    headers: { authorization: auth, "content-type": "application/json" },
    body: typeof rules === "string" ? rules : JSON.stringify(rules),
  });
}

/** Who answered: docker-registry says 200 on /v2/ and NAME_UNKNOWN for what it lacks; Pier asks for a token. */
async function answeredBy(target: Hono, path: string): Promise<"pier" | "legacy"> {
  const response = await send(target, "GET", path);
  await response.arrayBuffer();
  return response.headers.get("www-authenticate")?.startsWith("Bearer") ? "pier" : "legacy";
}

beforeAll(async () => {
  legacy = await startUpstreamRegistry();
  legacyImage = await pushImage(legacy.url, "team/app", "v1");
  api = await startApiHarness("front");
  app = front(legacy.url);
}, 60_000);

afterAll(async () => {
  await redis.delete([`${prefix}${FRONT_RULES_KEY}`]).catch(() => {});
  await redis.close();
  await api?.close();
  await legacy?.close();
});

describe("strangler front", () => {
  it("sends everything to legacy by default, faithfully: status, headers, bytes, a request id", async () => {
    const base = await send(app, "GET", "/v2/");
    expect(base.status).toBe(200);
    expect(await base.json()).toEqual({});
    expect(base.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const manifest = await send(app, "GET", "/v2/team/app/manifests/v1", {
      headers: { accept: legacyImage.mediaType, "x-request-id": "trace-42" },
    });
    expect(manifest.status).toBe(200);
    expect(manifest.headers.get("docker-content-digest")).toBe(legacyImage.digest);
    expect(manifest.headers.get("x-request-id")).toBe("trace-42");
    expect(new Uint8Array(await manifest.arrayBuffer())).toEqual(legacyImage.bytes);
    const head = await send(app, "HEAD", `/v2/team/app/blobs/${legacyImage.layers[0]!.digest}`);
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(legacyImage.layers[0]!.bytes.byteLength));
    // The front's own controls stay Pier's.
    expect((await send(app, "GET", "/api/v1/superuser/front", { headers: { authorization: api.root.basic } })).status).toBe(200);
  });

  it("routes by path family, namespace and repository once an operator stores rules, and only superusers may", async () => {
    const rules = {
      rules: [
        { id: "keep-legacy", families: ["*"], repositories: ["acme/old"], target: "legacy" },
        { id: "acme-reads", families: ["v2-read"], namespaces: ["acme"], target: "pier" },
      ],
    };
    const outsider = await api.user("outsider");
    const refused = await putRules(app, rules, outsider.basic);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ error_type: "insufficient_scope" });
    const stored = await putRules(app, rules);
    expect(stored.status).toBe(200);
    expect(await stored.json()).toMatchObject({ killSwitch: false, rules: [{ id: "keep-legacy" }, { id: "acme-reads" }] });
    expect(await answeredBy(app, "/v2/acme/app/manifests/v1")).toBe("pier");
    expect(await answeredBy(app, "/v2/acme/old/manifests/v1")).toBe("legacy");
    expect(await answeredBy(app, "/v2/other/app/manifests/v1")).toBe("legacy");
    expect(await answeredBy(app, "/v2/")).toBe("legacy");
    const audit = await api.sql.query<{ kind: string }>(
      `SELECT k.name AS kind FROM logentry3 l JOIN logentrykind k ON k.id = l.kind_id WHERE l.performer_id = $1`,
      [api.root.id],
    );
    expect(audit.rows).toContainEqual({ kind: "pier_front_rules_change" });
  });

  it("refuses bad rules with a 400 in Quay's shape and keeps the rules in force", async () => {
    await putRules(app, { rules: [{ id: "acme-reads", families: ["v2-read"], namespaces: ["acme"], target: "pier" }] });
    for (const [body, message] of [
      ["{not json", "Failed to decode JSON object"],
      [{ rules: [{ id: "x", families: ["v2-read"], target: "quay" }] }, 'rules[0].target must be "pier" or "legacy"'],
    ] as const) {
      const response = await putRules(app, body);
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ error_message: message, error_type: "invalid_request" });
    }
    const current = await send(app, "GET", "/api/v1/superuser/front", { headers: { authorization: api.root.basic } });
    expect(await current.json()).toMatchObject({ rules: [{ id: "acme-reads", target: "pier" }] });
    expect(await answeredBy(app, "/v2/acme/app/manifests/v1")).toBe("pier");
  });

  it("flips everything back to legacy with the kill switch, and back again", async () => {
    await putRules(app, { rules: [{ id: "all", families: ["*"], target: "pier" }] });
    expect(await answeredBy(app, "/v2/acme/app/manifests/v1")).toBe("pier");
    const killed = await send(app, "POST", "/api/v1/superuser/front/killswitch", { headers: { authorization: api.root.basic } });
    expect(await killed.json()).toMatchObject({ killSwitch: true });
    expect(await answeredBy(app, "/v2/acme/app/manifests/v1")).toBe("legacy");
    expect(await answeredBy(app, "/v2/")).toBe("legacy");
    await send(app, "POST", "/api/v1/superuser/front/killswitch", {
      headers: { authorization: api.root.basic, "content-type": "application/json" },
      body: JSON.stringify({ enabled: false }),
    });
    expect(await answeredBy(app, "/v2/acme/app/manifests/v1")).toBe("pier");
  });

  it(`brings a change to another running front within its refresh bound (${REFRESH_MS} ms)`, async () => {
    const other = front(legacy.url);
    await putRules(app, { rules: [] });
    await new Promise((resolve) => setTimeout(resolve, REFRESH_MS + 50));
    expect(await answeredBy(other, "/v2/acme/app/manifests/v1")).toBe("legacy");
    await putRules(app, { rules: [{ id: "acme", families: ["*"], namespaces: ["acme"], target: "pier" }] });
    const changedAt = performance.now();
    while ((await answeredBy(other, "/v2/acme/app/manifests/v1")) !== "pier") {
      expect(performance.now() - changedAt).toBeLessThan(REFRESH_MS + 500);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(performance.now() - changedAt).toBeLessThan(REFRESH_MS + 500);
  });

  it("is changed by `pier front` too: set, kill, restore, and a refusal with the registry's reason", async () => {
    const server = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 });
    await new Promise<void>((resolve) => (server.listening ? resolve() : server.once("listening", () => resolve())));
    const dir = await mkdtemp(join(tmpdir(), "pier-front-"));
    const pier = (...args: string[]) =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        const child = spawn(process.execPath, [
          "scripts/pier.mjs",
          "front",
          ...args,
          "--url",
          url,
          "--user",
          `${api.root.username}:${api.root.password}`,
        ]);
        let out = "";
        child.stdout.on("data", (chunk) => (out += chunk));
        child.stderr.on("data", (chunk) => (out += chunk));
        child.once("exit", (code) => resolve({ code, out }));
      });
    try {
      await writeFile(
        join(dir, "rules.json"),
        JSON.stringify({ rules: [{ id: "acme", families: ["*"], namespaces: ["acme"], target: "pier" }] }),
      );
      expect(await pier("set", join(dir, "rules.json"))).toMatchObject({ code: 0, out: expect.stringContaining('"id": "acme"') });
      expect(await answeredBy(app, "/v2/acme/app/manifests/v1")).toBe("pier");
      expect(await pier("kill")).toMatchObject({ code: 0, out: expect.stringContaining('"killSwitch": true') });
      expect(await answeredBy(app, "/v2/acme/app/manifests/v1")).toBe("legacy");
      expect(await pier("restore")).toMatchObject({ code: 0, out: expect.stringContaining('"killSwitch": false') });
      expect(await answeredBy(app, "/v2/acme/app/manifests/v1")).toBe("pier");
      await writeFile(join(dir, "bad.json"), JSON.stringify({ rules: [{ id: "x", families: ["*"], target: "elsewhere" }] }));
      expect(await pier("set", join(dir, "bad.json"))).toMatchObject({
        code: 1,
        out: expect.stringContaining('400: rules[0].target must be "pier" or "legacy"'),
      });
      expect((await pier("show")).out).toContain('"id": "acme"');
      expect(await pier("bogus")).toMatchObject({ code: 2, out: expect.stringContaining('unknown action "bogus"') });
    } finally {
      await rm(dir, { recursive: true, force: true });
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }, 60_000);

  it("answers 503 in the path family's shape when legacy is down or does not answer, within the timeout", async () => {
    await putRules(app, { rules: [] });
    const down = front(`http://127.0.0.1:${await freePort()}`);
    const v2 = await send(down, "GET", "/v2/team/app/manifests/v1");
    expect(v2.status).toBe(503);
    expect(await v2.json()).toEqual({ errors: [{ code: "UNAVAILABLE", message: "the legacy registry is unavailable", detail: {} }] });
    const rest = await send(down, "GET", "/api/v1/repository/team/app");
    expect(rest.status).toBe(503);
    expect(await rest.json()).toMatchObject({ error_type: "downstream_issue", error_message: "the legacy registry is unavailable" });

    // A legacy that takes the connection and never answers.
    const sockets: import("node:net").Socket[] = [];
    const silent: Server = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    try {
      const hung = front(`http://127.0.0.1:${(silent.address() as { port: number }).port}`, { PIER_FRONT_TIMEOUT_MS: "300" });
      const started = performance.now();
      const response = await send(hung, "GET", "/v2/team/app/tags/list");
      expect(response.status).toBe(503);
      expect(await response.json()).toMatchObject({
        errors: [{ code: "UNAVAILABLE", message: "the legacy registry did not answer within 300 ms" }],
      });
      expect(performance.now() - started).toBeLessThan(3_000);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it("streams a ~200 MiB blob to legacy and back without holding it", async () => {
    await putRules(app, { rules: [] });
    const size = 200 * 1024 * 1024;
    const chunk = 64 * 1024;
    /** Deterministic bytes made as they are read: chunk i is filled with (i * 31) & 255. */
    const bytes = () => {
      let sent = 0;
      return new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent >= size) return controller.close();
          controller.enqueue(new Uint8Array(chunk).fill(((sent / chunk) * 31) & 255));
          sent += chunk;
        },
      });
    };
    const expected = createHash("sha256");
    for await (const part of bytes() as unknown as AsyncIterable<Uint8Array>) expected.update(part);
    const digest = `sha256:${expected.digest("hex")}`;
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
    try {
      const started = await send(app, "POST", "/v2/team/big/blobs/uploads/");
      expect(started.status).toBe(202);
      // docker-registry builds its Location from the front's X-Forwarded-Host and -Proto.
      const location = new URL(started.headers.get("location")!);
      expect(location.origin).toBe(HOST);
      location.searchParams.set("digest", digest);
      const put = await send(app, "PUT", `${location.pathname}${location.search}`, {
        headers: { "content-type": "application/octet-stream", "content-length": String(size) },
        body: bytes(),
      });
      expect(put.status).toBe(201);
      const pulled = await send(app, "GET", `/v2/team/big/blobs/${digest}`);
      expect(pulled.status).toBe(200);
      const hash = createHash("sha256");
      let received = 0;
      for await (const part of pulled.body! as unknown as AsyncIterable<Uint8Array>) {
        hash.update(part);
        received += part.byteLength;
      }
      expect(received).toBe(size);
      expect(`sha256:${hash.digest("hex")}`).toBe(digest);
    } finally {
      clearInterval(sampler);
    }
    expect((peak - baseline) / 2 ** 20).toBeLessThan(100);
  }, 120_000);
  describe("Pier's cache beside legacy writes", () => {
    const manifestText = (n: number) =>
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: `sha256:${String(n).repeat(64).slice(0, 64)}`, size: n },
        layers: [],
      });

    /** A public `<org>/app` in Pier's database with two manifests, `latest` on the first; reads of it go to Pier. */
    async function sharedRepository() {
      const org = unique("shared");
      const target = { sql: api.sql, blobs: api.registry.blobs };
      const repoId = await createRepository(target, await createNamespace(target, org, { organization: true }), "app", {
        visibility: "public",
      });
      const [first, second] = [
        await storeManifest(target, repoId, manifestText(1), "application/vnd.oci.image.manifest.v1+json"),
        await storeManifest(target, repoId, manifestText(2), "application/vnd.oci.image.manifest.v1+json"),
      ];
      await tagManifest(target, repoId, "latest", first.id);
      await putRules(app, { rules: [{ id: "shared-reads", families: ["v2-read"], namespaces: [org], target: "pier" }] });
      /** What legacy (sharing the database) does to a tag: end the row, start a new one. */
      const retagInDatabase = async (manifestId: number) => {
        const now = Date.now();
        await api.sql.query(
          `UPDATE tag SET lifetime_end_ms = $2 WHERE repository_id = $1 AND name = 'latest' AND lifetime_end_ms IS NULL`,
          [repoId, now],
        );
        await tagManifest(target, repoId, "latest", manifestId, { startMs: now });
      };
      return { org, first, second, retagInDatabase };
    }

    const latestDigest = async (target: Hono, org: string) => {
      const response = await send(target, "GET", `/v2/${org}/app/manifests/latest`, {
        headers: { accept: "application/vnd.oci.image.manifest.v1+json" },
      });
      await response.arrayBuffer();
      expect(response.status).toBe(200);
      return response.headers.get("docker-content-digest");
    };

    it("drops its cached answers for a repository once legacy accepts a write to it through the front", async () => {
      const cached = front(legacy.url, { PIER_ISOLATE_CACHE_MS: "60000", PIER_SHARED_CACHE_MAX_AGE_MS: "60000" });
      const { org, first, second, retagInDatabase } = await sharedRepository();
      await new Promise((resolve) => setTimeout(resolve, REFRESH_MS + 50));
      expect(await latestDigest(cached, org)).toBe(first.digest);
      await retagInDatabase(second.id);
      // Cached: a write that bypasses the front is not seen yet.
      expect(await latestDigest(cached, org)).toBe(first.digest);
      const write = await send(cached, "POST", `/v2/${org}/app/blobs/uploads/`);
      expect(write.status).toBe(202);
      expect(await latestDigest(cached, org)).toBe(second.digest);
    });

    it("sees a tag changed behind its back within PIER_FRONT_MUTABLE_TTL_MS, and keeps serving what a digest names", async () => {
      const ttlMs = 500;
      const bounded = front(legacy.url, {
        PIER_ISOLATE_CACHE_MS: "200",
        PIER_FRONT_MUTABLE_TTL_MS: String(ttlMs),
        PIER_SHARED_CACHE_MAX_AGE_MS: "60000",
      });
      const { org, first, second, retagInDatabase } = await sharedRepository();
      await new Promise((resolve) => setTimeout(resolve, REFRESH_MS + 50));
      expect(await latestDigest(bounded, org)).toBe(first.digest);
      const byDigest = () => send(bounded, "GET", `/v2/${org}/app/manifests/${first.digest}`, { headers: { accept: first.mediaType } });
      expect((await byDigest()).status).toBe(200);

      await retagInDatabase(second.id);
      // Legacy's garbage collection removes the first manifest too.
      await api.sql.query(`DELETE FROM tag WHERE manifest_id = $1`, [first.id]);
      await api.sql.query(`DELETE FROM manifest WHERE id = $1`, [first.id]);
      const changedAt = performance.now();
      while ((await latestDigest(bounded, org)) !== second.digest) {
        expect(performance.now() - changedAt).toBeLessThan(ttlMs + 300);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      expect(performance.now() - changedAt).toBeLessThan(ttlMs + 300);
      // Past the mutable bound, content by digest is still answered from the cache.
      await new Promise((resolve) => setTimeout(resolve, ttlMs));
      const cached = await byDigest();
      expect(cached.status).toBe(200);
      expect(await cached.text()).toBe(first.text);
    });
  });
});
