/**
 * The registry client against real upstreams: docker-registry (anonymous and htpasswd
 * Basic), a second Pier (bearer tokens from its /v2/auth), and a tiny node:http server
 * injecting 429s, budget headers and wrong bytes. Requests are counted at the port.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { redisCache } from "../../src/adapters/cache/redis.js";
import { guardedUpstream } from "../../src/adapters/upstream/guarded-fetch.js";
import { createPierMetrics, upstreamExchangeRecorder } from "../../src/core/metrics/pier-metrics.js";
import type { Cache } from "../../src/core/ports/cache.js";
import type { Upstream } from "../../src/core/ports/upstream.js";
import { parseUpstreamRegistry } from "../../src/core/proxy/upstream-registry.js";
import { credentialIdentity } from "../../src/core/upstream/auth.js";
import { registryClient } from "../../src/core/upstream/client.js";
import { UpstreamError, type UpstreamCredentials, type UpstreamExchange, type UpstreamTarget } from "../../src/core/upstream/types.js";
import { freePort } from "../support/edge-server.js";
import { fakeClock } from "../support/fake-clock.js";
import { startPierUpstream, type PierUpstream } from "../support/pier-upstream.js";
import { digestOf } from "../support/quay-seed.js";
import { REDIS_URL } from "../support/services.js";
import { pushImage, startUpstreamRegistry, type PushedImage, type UpstreamRegistryProcess } from "../support/upstream-registry.js";

const BASIC = { username: "puller", password: `pw-${crypto.randomUUID()}` };

/** The guarded port as production builds it (loopback allowed), recording every request it sends. */
function countingUpstream(allowedHosts: string[] = ["127.0.0.1"]): Upstream & { sent: string[]; count(pattern: RegExp): number } {
  const inner = guardedUpstream({ policy: { allowedHosts }, timeoutMs: 5_000 });
  const sent: string[] = [];
  return {
    sent,
    count: (pattern) => sent.filter((line) => pattern.test(line)).length,
    fetch(request) {
      const url = new URL(request.url);
      sent.push(`${request.method} ${url.pathname}${url.search}`);
      return inner.fetch(request);
    },
  };
}

function target(host: string, credentials: UpstreamCredentials | null = null): UpstreamTarget {
  return { registry: parseUpstreamRegistry(host, true), credentials };
}

async function failure(promise: Promise<unknown>): Promise<UpstreamError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UpstreamError);
  return error as UpstreamError;
}

/** A node:http upstream whose answers each test sets: the fault injector. */
async function startScriptedUpstream(): Promise<{
  host: string;
  handle: (h: (req: IncomingMessage, res: ServerResponse) => void) => void;
  close(): Promise<void>;
}> {
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.writeHead(404).end();
  const server: Server = createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    handle: (h) => (handler = h),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe("registry client", () => {
  let cache: Cache;
  let plain: UpstreamRegistryProcess;
  let basic: UpstreamRegistryProcess;
  let pier: PierUpstream;
  let plainImage: PushedImage;
  let basicImage: PushedImage;

  beforeAll(async () => {
    cache = redisCache({ url: REDIS_URL });
    [plain, basic, pier] = await Promise.all([
      startUpstreamRegistry(),
      startUpstreamRegistry({ basicAuth: BASIC }),
      startPierUpstream("upclient"),
    ]);
    plainImage = await pushImage(plain.url, "library/alpine", "3.20");
    const authorization = `Basic ${Buffer.from(`${BASIC.username}:${BASIC.password}`).toString("base64")}`;
    basicImage = await pushImage(basic.url, "team/app", "v1", { authorization });
  });

  afterAll(async () => {
    await Promise.all([plain?.close(), basic?.close(), pier?.close()]);
    await cache?.close();
  });

  it("pulls anonymously: ping, HEAD without a GET, GET with the digest checked, streamed blob, tags, no referrers API", async () => {
    const upstream = countingUpstream();
    const exchanges: UpstreamExchange[] = [];
    const client = registryClient({ upstream, cache, clock: fakeClock(), onExchange: (e) => exchanges.push(e) });
    const t = target(plain.host);
    expect(await client.ping(t)).toBe("anonymous");
    const head = await client.headManifest(t, "library/alpine", "3.20");
    expect(head).toEqual({ digest: plainImage.digest, mediaType: plainImage.mediaType, size: plainImage.bytes.byteLength });
    expect(upstream.count(/^GET \/v2\/library\/alpine\/manifests/)).toBe(0);
    const manifest = await client.getManifest(t, "library/alpine", plainImage.digest);
    expect(manifest.digest).toBe(plainImage.digest);
    expect(Buffer.from(manifest.bytes).equals(Buffer.from(plainImage.bytes))).toBe(true);
    const layer = plainImage.layers[1]!;
    const blob = await client.getBlob(t, "library/alpine", layer.digest);
    expect(blob.size).toBe(layer.bytes.byteLength);
    expect(await digestOf(new Uint8Array(await new Response(blob.body).arrayBuffer()))).toBe(layer.digest);
    expect(await client.listTags(t, "library/alpine")).toEqual(["3.20"]);
    expect(await client.getReferrers(t, "library/alpine", plainImage.digest)).toBeNull();
    // The scheme was learned once: only the ping asked /v2/.
    expect(upstream.count(/^GET \/v2\/$/)).toBe(1);
    expect(exchanges.map((e) => `${e.operation} ${e.status}`)).toEqual([
      "ping 200",
      "manifest-head 200",
      "manifest-get 200",
      "blob 200",
      "tags 200",
      "referrers 404",
    ]);
    expect(exchanges.find((e) => e.operation === "blob")).toMatchObject({ upstream: plain.host, bytes: layer.bytes.byteLength });

    const metrics = createPierMetrics("origin");
    exchanges.forEach(upstreamExchangeRecorder(metrics));
    const text = metrics.registry.render();
    expect(text).toContain(
      `pier_proxy_upstream_requests_total{runtime="origin",upstream="${plain.host}",operation="referrers",status="404"} 1`,
    );
    expect(text).toContain(`pier_proxy_upstream_bytes_total{runtime="origin",upstream="${plain.host}"} `);
    expect(text).toMatch(
      new RegExp(
        `pier_proxy_upstream_seconds_count\\{runtime="origin",upstream="${plain.host.replace(/\./g, "\\.")}",operation="blob"\\} 1`,
      ),
    );
  });

  it("names a missing manifest not_found", async () => {
    const client = registryClient({ upstream: countingUpstream(), cache, clock: fakeClock() });
    const error = await failure(client.getManifest(target(plain.host), "library/alpine", "missing"));
    expect(error).toMatchObject({ kind: "not_found", status: 404 });
    expect(error.message).toContain(plain.host);
    expect((await failure(client.listTags(target(plain.host), "library/nothing"))).kind).toBe("not_found");
  });

  it("uses Basic credentials on every request and refuses a wrong password as auth", async () => {
    const upstream = countingUpstream();
    const client = registryClient({ upstream, cache, clock: fakeClock() });
    const good = target(basic.host, BASIC);
    expect(await client.ping(good)).toBe("authenticated");
    expect((await client.getManifest(good, "team/app", "v1")).digest).toBe(basicImage.digest);
    const wrong = target(basic.host, { username: BASIC.username, password: "wrong" });
    const error = await failure(client.getManifest(wrong, "team/app", "v1"));
    expect(error).toMatchObject({ kind: "auth", status: 401 });
    expect(error.message).not.toContain("wrong");
    // One re-auth, then the refusal: two GETs with the wrong password.
    expect(upstream.count(/^GET \/v2\/team\/app\/manifests\/v1$/)).toBe(3);
    expect((await failure(client.ping(wrong))).kind).toBe("auth");
    // Without credentials nothing can be verified: Quay's "Anonymous".
    expect(await client.ping(target(basic.host))).toBe("anonymous");
  });

  it("does the bearer dance against a Pier, caches the token per scope, and re-authenticates once after a 401", async () => {
    const upstream = countingUpstream();
    const clock = fakeClock();
    const client = registryClient({ upstream, cache, clock });
    const t = target(pier.host, { username: pier.username, password: pier.password });
    expect(await client.ping(t)).toBe("authenticated");
    const tokensAfterPing = upstream.count(/^GET \/v2\/auth\?/);
    expect(tokensAfterPing).toBe(1);
    const first = await client.getManifest(t, pier.repository, "latest");
    expect(first.digest).toBe(pier.image.manifest.digest);
    expect(upstream.count(/^GET \/v2\/auth\?.*scope=repository%3A/)).toBe(1);
    await client.getManifest(t, pier.repository, pier.image.manifest.digest);
    await client.headManifest(t, pier.repository, "latest");
    // The second GET and the HEAD cost no token request.
    expect(upstream.count(/^GET \/v2\/auth\?/)).toBe(tokensAfterPing + 1);

    // A token the upstream does not accept: one 401, one new token, one retry.
    const scope = `repository:${pier.repository}:pull`;
    await cache.set(`pier:upstream:token:${pier.host}:${await credentialIdentity(t.credentials)}:${scope}`, "not-a-token", 60);
    const manifestGets = upstream.count(/^GET \/v2\/.*\/manifests\//);
    expect((await client.getManifest(t, pier.repository, "latest")).digest).toBe(pier.image.manifest.digest);
    expect(upstream.count(/^GET \/v2\/.*\/manifests\//)).toBe(manifestGets + 2);
    expect(upstream.count(/^GET \/v2\/auth\?/)).toBe(tokensAfterPing + 2);

    const wrong = target(pier.host, { username: pier.username, password: "wrong" });
    expect(await failure(client.getManifest(wrong, pier.repository, "latest"))).toMatchObject({ kind: "auth", status: 401 });
    expect((await failure(client.ping(wrong))).kind).toBe("auth");
    expect(await client.ping(target(pier.host))).toBe("anonymous");
    expect((await failure(client.getManifest(target(pier.host), pier.repository, "latest"))).kind).toBe("auth");
  });

  it("computes the digest when HEAD sends none, refuses bytes that mismatch a digest reference, and caps manifests", async () => {
    const scripted = await startScriptedUpstream();
    try {
      const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", layers: [] }));
      const digest = await digestOf(body);
      let size = body.byteLength;
      scripted.handle((req, res) => {
        if (req.url === "/v2/") return res.writeHead(200).end();
        const headers = { "content-type": "application/vnd.oci.image.manifest.v1+json" };
        if (req.method === "HEAD") return res.writeHead(200, headers).end();
        res.writeHead(200, headers).end(size === body.byteLength ? body : Buffer.alloc(size, 0x20));
      });
      const upstream = countingUpstream();
      const client = registryClient({ upstream, cache, clock: fakeClock() });
      const t = target(scripted.host);
      expect(await client.headManifest(t, "lib/x", "1")).toEqual({ digest, mediaType: "application/vnd.oci.image.manifest.v1+json", size });
      expect(upstream.count(/^GET \/v2\/lib\/x\/manifests\/1$/)).toBe(1);
      const other = `sha256:${"0".repeat(64)}`;
      const mismatch = await failure(client.getManifest(t, "lib/x", other));
      expect(mismatch.kind).toBe("error");
      expect(mismatch.message).toMatch(/digest mismatch/);
      size = 4 * 1024 * 1024 + 1;
      expect((await failure(client.getManifest(t, "lib/x", "1"))).message).toMatch(/more than 4194304 bytes/);
    } finally {
      await scripted.close();
    }
  });

  it("reads the rate-limit budget, blocks after a 429 without asking, and keeps the reserve from revalidations", async () => {
    const scripted = await startScriptedUpstream();
    try {
      let remaining = 50;
      let limited = false;
      const budget = () => ({ "ratelimit-limit": "100;w=21600", "ratelimit-remaining": `${remaining};w=21600` });
      scripted.handle((req, res) => {
        if (req.url === "/v2/") return res.writeHead(200).end();
        if (limited) return res.writeHead(429, { "retry-after": "120", ...budget() }).end();
        res
          .writeHead(200, {
            "docker-content-digest": `sha256:${"a".repeat(64)}`,
            "content-type": "application/vnd.oci.image.manifest.v1+json",
            "content-length": "10",
            ...budget(),
          })
          .end();
      });
      const upstream = countingUpstream();
      const clock = fakeClock();
      const client = registryClient({ upstream, cache, clock });
      const t = target(scripted.host);
      await client.headManifest(t, "lib/y", "1");
      expect(await client.budget(t)).toEqual({ limit: 100, remaining: 50, blockedUntil: null });

      remaining = 10;
      await client.headManifest(t, "lib/y", "1", { purpose: "revalidate" });
      const sent = upstream.sent.length;
      const kept = await failure(client.headManifest(t, "lib/y", "1", { purpose: "revalidate" }));
      expect(kept.kind).toBe("rate_limited");
      expect(upstream.sent.length).toBe(sent);
      await client.headManifest(t, "lib/y", "1", { purpose: "fill" });
      expect(upstream.sent.length).toBe(sent + 1);

      limited = true;
      remaining = 0;
      expect(await failure(client.headManifest(t, "lib/y", "1"))).toMatchObject({
        kind: "rate_limited",
        status: 429,
        retryAfterSeconds: 120,
      });
      expect(await client.budget(t)).toEqual({ limit: 100, remaining: 0, blockedUntil: clock.now() + 120_000 });
      limited = false;
      const before = upstream.sent.length;
      clock.advance(60_000);
      expect(await failure(client.getManifest(t, "lib/y", "1"))).toMatchObject({
        kind: "rate_limited",
        status: null,
        retryAfterSeconds: 60,
      });
      expect(upstream.sent.length).toBe(before);
      clock.advance(61_000);
      remaining = 40;
      await client.headManifest(t, "lib/y", "1");
      expect(upstream.sent.length).toBe(before + 1);
    } finally {
      await scripted.close();
    }
  });

  it("reads Retry-After as an HTTP date", async () => {
    const scripted = await startScriptedUpstream();
    try {
      const clock = fakeClock();
      scripted.handle((req, res) => {
        if (req.url === "/v2/") return res.writeHead(200).end();
        res.writeHead(429, { "retry-after": new Date(clock.now() + 30_000).toUTCString() }).end();
      });
      const client = registryClient({ upstream: countingUpstream(), cache, clock });
      expect(await failure(client.getBlob(target(scripted.host), "lib/z", `sha256:${"b".repeat(64)}`))).toMatchObject({
        kind: "rate_limited",
        retryAfterSeconds: 30,
      });
    } finally {
      await scripted.close();
    }
  });

  it("calls a closed port unavailable and refuses a loopback upstream the SSRF policy does not list", async () => {
    const closed = `127.0.0.1:${await freePort()}`;
    const client = registryClient({ upstream: countingUpstream(), cache, clock: fakeClock() });
    const down = await failure(client.ping(target(closed)));
    expect(down.kind).toBe("unavailable");
    expect(down.message).toContain(closed);
    const unlisted = registryClient({ upstream: countingUpstream([]), cache, clock: fakeClock() });
    const refused = await failure(unlisted.getManifest(target(plain.host), "library/alpine", "3.20"));
    expect(refused.kind).toBe("error");
    expect(refused.message).toMatch(/SSRF guard refused/);
  });
});
