/**
 * The shipped dashboard and alert rules against the real thing: the origin as deployed
 * (workers/origin.ts bundled, on plain Node) serves a few pulls, a push, a refused token,
 * a pull through the proxy cache from a stand-in upstream and its start-up job run; then
 * every metric deploy/monitoring's PromQL selects must be a series its /metrics exports.
 * Also the origin's start line (build, who may scrape) and pier_build_info.
 */
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MediaType } from "../../src/core/model/media-types.js";
import { dashboardExpressions, ruleExpressions, selectedMetrics } from "../support/monitoring-files.js";
import { originEnvOfFixture, startOriginProcess, type OriginProcess } from "../support/origin-process.js";
import { startOriginRegistry, TEST_HOST, type OriginFixture } from "../support/origin-registry.js";
import { seedPullFixture, type PullFixture } from "../support/pull-fixture.js";
import { createNamespace, unique } from "../support/quay-seed.js";

/** Series Prometheus makes itself for every target, not Pier. */
const PROMETHEUS_MADE = new Set(["up"]);

const manifest = JSON.stringify({
  schemaVersion: 2,
  mediaType: MediaType.ociManifest,
  config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: `sha256:${"a".repeat(64)}`, size: 2 },
  layers: [],
});
const manifestDigest = `sha256:${createHash("sha256").update(manifest).digest("hex")}`;

let fixture: OriginFixture;
let fx: PullFixture;
let upstream: Server;
let cacheOrg: string;
let origin: OriginProcess;

/** A stand-in upstream registry: Docker Hub's rate-limit headers on one manifest. */
async function startUpstream(): Promise<Server> {
  const server = createServer((request, response) => {
    if (request.url === "/v2/") return response.writeHead(200).end("{}");
    if (!request.url?.endsWith("/manifests/v1")) return response.writeHead(404).end();
    response.writeHead(200, {
      "Content-Type": MediaType.ociManifest,
      "Docker-Content-Digest": manifestDigest,
      "Content-Length": String(Buffer.byteLength(manifest)),
      "ratelimit-limit": "100;w=21600",
      "ratelimit-remaining": "99;w=21600",
    });
    response.end(request.method === "HEAD" ? undefined : manifest);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

function call(path: string, init: { method?: string; token?: string; body?: string; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { accept: MediaType.ociManifest, ...init.headers };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  return fetch(`${origin.url}${path}`, { method: init.method ?? "GET", headers, body: init.body, redirect: "manual" });
}

async function scrape(): Promise<string> {
  const response = await call("/metrics");
  expect(response.status).toBe(200);
  return response.text();
}

/** Names of the series in an exposition (histogram parts under their own `_bucket`, `_sum`, `_count` names). */
function exportedNames(text: string): Set<string> {
  return new Set(text.split("\n").flatMap((line) => (line === "" || line.startsWith("#") ? [] : [/^[A-Za-z_:][\w:]*/.exec(line)![0]])));
}

beforeAll(async () => {
  fixture = await startOriginRegistry("monitoring");
  fx = await seedPullFixture(fixture.registry, Date.now());
  upstream = await startUpstream();
  cacheOrg = unique("hub");
  const orgId = await createNamespace(fixture.registry, cacheOrg, { organization: true });
  await fixture.direct.query(
    `INSERT INTO proxycacheconfig (organization_id, creation_date, upstream_registry, expiration_s, insecure) VALUES ($1, now(), $2, 600, true)`,
    [orgId, `127.0.0.1:${(upstream.address() as AddressInfo).port}`],
  );
  origin = await startOriginProcess({
    ...originEnvOfFixture(fixture),
    PIER_SERVER_HOSTNAME: TEST_HOST,
    PIER_URL_SCHEME: "https",
    PIER_PROXY_CACHE: "true",
    PIER_SSRF_ALLOWED_HOSTS: "127.0.0.1",
  });
}, 120_000);

afterAll(async () => {
  await origin?.close();
  await new Promise((resolve) => upstream?.close(resolve));
  await fixture?.close();
});

describe("the origin's exposition", () => {
  it("exports every metric the Grafana dashboard and the alert rules select", async () => {
    // Pulls: anonymous and refused, a manifest twice (cold, warm), a blob redirect.
    expect((await call("/v2/")).status).toBe(401);
    expect((await call(`/v2/${fx.app}/manifests/v1`, { token: "not.a.token" })).status).toBe(401);
    const reader = await fixture.token("reader", { [fx.app]: ["pull", "push"] });
    expect((await call(`/v2/${fx.app}/manifests/v1`, { token: reader })).status).toBe(200);
    expect((await call(`/v2/${fx.app}/manifests/v1`, { token: reader })).status).toBe(200);
    expect((await call(`/v2/${fx.app}/blobs/${fx.oci.layers[0]!.digest}`, { token: reader })).status).toBe(302);
    // A push: one monolithic blob upload.
    const body = `monitoring ${crypto.randomUUID()}`;
    const digest = `sha256:${createHash("sha256").update(body).digest("hex")}`;
    expect((await call(`/v2/${fx.app}/blobs/uploads/?digest=${digest}`, { method: "POST", token: reader, body })).status).toBe(201);
    // A pull through the proxy cache.
    const cached = `${cacheOrg}/library/demo`;
    const puller = await fixture.token("puller", { [cached]: ["pull"] });
    const proxied = await call(`/v2/${cached}/manifests/v1`, { token: puller });
    expect(proxied.status).toBe(200);
    expect(proxied.headers.get("docker-content-digest")).toBe(manifestDigest);

    // The start-up job run (upload-orphans) and a few event-loop samples.
    await expect.poll(async () => (await scrape()).includes("pier_job_runs_total{"), { timeout: 20_000 }).toBe(true);
    await expect.poll(async () => exportedNames(await scrape()).has("nodejs_eventloop_lag_seconds_bucket"), { timeout: 5_000 }).toBe(true);
    const exported = exportedNames(await scrape());

    const expressions = [...(await dashboardExpressions()), ...(await ruleExpressions())];
    expect(expressions.length).toBeGreaterThan(40);
    const selected = new Set(expressions.flatMap(selectedMetrics));
    // The extraction found what the files are about.
    for (const name of [
      "pier_http_requests_total",
      "pier_job_runs_total",
      "process_resident_memory_bytes",
      "pier_proxy_upstream_seconds_bucket",
    ]) {
      expect(selected).toContain(name);
    }
    const missing = [...selected].filter((name) => !exported.has(name) && !PROMETHEUS_MADE.has(name)).sort();
    expect(missing).toEqual([]);
  });

  it("says who may scrape in its start line, reports its build, and refuses a forwarded scrape", async () => {
    let commit = "unknown";
    try {
      commit = execFileSync("git", ["rev-parse", "--short=12", "HEAD"], { stdio: ["ignore", "pipe", "ignore"] })
        .toString()
        .trim();
    } catch {
      // Not a git checkout: the bundle says unknown.
    }
    expect(origin.output()).toMatch(
      new RegExp(
        `Pier origin listening on port \\d+ on 127\\.0\\.0\\.1 \\(pier [\\w.-]+, commit ${commit}; GET /metrics answers loopback callers only`,
      ),
    );
    expect(await scrape()).toMatch(new RegExp(`^pier_build_info\\{runtime="origin",version="[\\w.-]+",commit="${commit}"\\} 1$`, "m"));
    expect((await call("/metrics", { headers: { "x-forwarded-for": "203.0.113.5" } })).status).toBe(403);
  });
});
