/**
 * The client address on the Node runtimes, over real sockets on 127.0.0.1: forwarding
 * headers count only from PIER_TRUSTED_PROXIES peers (audit rows, the Akamai bypass),
 * and /metrics without PIER_METRICS_TOKEN answers loopback callers only.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { asyncLocalScope } from "../../src/adapters/scope/async-local.js";
import { akamaiSigner } from "../../src/adapters/cdn/akamai.js";
import { PullAuditBuffer } from "../../src/core/audit-buffer.js";
import { loadRegistryConfig } from "../../src/core/config.js";
import { MediaType } from "../../src/core/model/media-types.js";
import type { Registry } from "../../src/core/registry.js";
import { createApp } from "../../src/http/app.js";
import { observed } from "../../src/http/observability.js";
import { listen, type RunningServer } from "../../src/runtime/node-server.js";
import { startOriginRegistry, TEST_HOST, type OriginFixture } from "../support/origin-registry.js";
import { seedPullFixture, type PullFixture } from "../support/pull-fixture.js";

let origin: OriginFixture;
let fx: PullFixture;
const servers: RunningServer[] = [];

beforeAll(async () => {
  origin = await startOriginRegistry("clientip");
  fx = await seedPullFixture(origin.registry, Date.now());
}, 60_000);
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await origin?.close();
});

/** The origin app on a real socket, with these settings over the fixture's. */
async function serveWith(settings: Record<string, string>, pullAudit?: PullAuditBuffer) {
  const config = loadRegistryConfig({ PIER_SERVER_HOSTNAME: TEST_HOST, PIER_URL_SCHEME: "https", ...settings });
  const signer = akamaiSigner({
    s3: origin.registry.signer!,
    domain: "cdn.example.com",
    sharedSecretHex: "00ff00ff",
    region: "us-east-1",
    bypassCidrs: ["10.0.0.0/8"],
    clock: origin.registry.clock,
  });
  const base: Registry = { ...origin.registry, config, signer };
  const { registry, observability } = observed(base, "origin", asyncLocalScope());
  const server = await listen(createApp(registry, { observability, pullAudit }), { hostname: "127.0.0.1", port: 0 });
  servers.push(server);
  return (path: string, headers: Record<string, string> = {}) =>
    fetch(`http://127.0.0.1:${server.port}${path}`, { headers: { accept: MediaType.ociManifest, ...headers }, redirect: "manual" });
}

async function auditedIps(buffer: PullAuditBuffer): Promise<string[]> {
  const since = (await origin.registry.sql.query<{ id: string }>(`SELECT COALESCE(max(id), 0)::text AS id FROM logentry3`)).rows[0]!.id;
  await buffer.flush(origin.registry.sql);
  const { rows } = await origin.registry.sql.query<{ ip: string }>(`SELECT ip FROM logentry3 WHERE id > $1 ORDER BY id`, [since]);
  return rows.map((r) => r.ip);
}

const spoofed = { "cf-connecting-ip": "10.9.9.9", "x-forwarded-for": "10.8.8.8" };

describe("client address", () => {
  it("ignores forwarding headers from a peer outside PIER_TRUSTED_PROXIES", async () => {
    const buffer = new PullAuditBuffer(() => Date.now(), 0);
    const get = await serveWith({}, buffer);
    expect((await get(`/v2/${fx.app}/manifests/v1`, spoofed)).status).toBe(200);
    expect(await auditedIps(buffer)).toEqual(["127.0.0.1"]);
    const blob = await get(`/v2/${fx.app}/blobs/${fx.oci.layers[0]!.digest}`, spoofed);
    expect(blob.status).toBe(302);
    expect(new URL(blob.headers.get("location")!).host).toBe("cdn.example.com");
  });

  it("honours CF-Connecting-IP and the rightmost untrusted X-Forwarded-For hop from a trusted peer", async () => {
    const buffer = new PullAuditBuffer(() => Date.now(), 0);
    const get = await serveWith({ PIER_TRUSTED_PROXIES: "127.0.0.0/8, 192.0.2.1" }, buffer);
    expect((await get(`/v2/${fx.app}/manifests/v1`, { "cf-connecting-ip": "10.9.9.9" })).status).toBe(200);
    // The client may write anything on the left; the last proxy we trust appended its peer.
    expect((await get(`/v2/${fx.app}/manifests/v1`, { "x-forwarded-for": "6.6.6.6, 198.51.100.4, 192.0.2.1" })).status).toBe(200);
    expect((await get(`/v2/${fx.app}/manifests/v1`, { "x-forwarded-for": "not-an-ip" })).status).toBe(200);
    expect(await auditedIps(buffer)).toEqual(["10.9.9.9", "198.51.100.4", "127.0.0.1"]);
    const blob = await get(`/v2/${fx.app}/blobs/${fx.oci.layers[0]!.digest}`, { "cf-connecting-ip": "10.9.9.9" });
    expect(new URL(blob.headers.get("location")!).host).not.toBe("cdn.example.com");
  });
});

describe("/metrics access", () => {
  it("without a token answers loopback callers only, a forwarded public client is refused", async () => {
    const get = await serveWith({ PIER_TRUSTED_PROXIES: "127.0.0.1" });
    expect((await get("/metrics")).status).toBe(200);
    const forwarded = await get("/metrics", { "x-forwarded-for": "203.0.113.5" });
    expect(forwarded.status).toBe(403);
    expect(await forwarded.json()).toEqual({ error: expect.stringContaining("PIER_METRICS_TOKEN") });
  });

  it("without a token refuses a loopback peer that forwards for someone (a reverse proxy on the same host)", async () => {
    const get = await serveWith({});
    for (const header of ["x-forwarded-for", "forwarded", "x-real-ip"]) {
      const proxied = await get("/metrics", { [header]: header === "forwarded" ? "for=203.0.113.5" : "203.0.113.5" });
      expect(proxied.status).toBe(403);
      expect(await proxied.json()).toEqual({ error: expect.stringContaining("PIER_METRICS_TOKEN") });
    }
    expect((await get("/metrics")).status).toBe(200);
  });

  it("with a token requires it from everyone", async () => {
    const get = await serveWith({ PIER_METRICS_TOKEN: "s3cret" });
    expect((await get("/metrics")).status).toBe(401);
    expect((await get("/metrics", { authorization: "Bearer s3cret" })).status).toBe(200);
  });
});
