/**
 * Observability of the origin's app on real PostgreSQL, Redis and S3: the /metrics
 * exposition (request counts, per-request SQL and cache costs, cache layers, signatures,
 * auth failures, upload bytes, the edge's aggregate), its token, request ids and logs.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { asyncLocalScope } from "../../src/adapters/scope/async-local.js";
import { EDGE_METRICS_KEY } from "../../src/core/metrics/pier-metrics.js";
import { MediaType } from "../../src/core/model/media-types.js";
import { createApp } from "../../src/http/app.js";
import { observed } from "../../src/http/observability.js";
import { startOriginRegistry, TEST_HOST, type OriginFixture } from "../support/origin-registry.js";
import { seedPullFixture, type PullFixture } from "../support/pull-fixture.js";

let origin: OriginFixture;
let fx: PullFixture;
let app: ReturnType<typeof createApp>;
const logged: string[] = [];
const edgeSeries = `pier_http_requests_total{runtime="edge",family="blob",method="GET",status="3xx",probe="${crypto.randomUUID()}"}`;

/** As Node's adapter delivers it: from a loopback socket (without a token, /metrics answers only those). */
const loopback = { incoming: { socket: { remoteAddress: "127.0.0.1" } } };

function get(path: string, headers: Record<string, string> = {}) {
  return app.request(`https://${TEST_HOST}${path}`, { headers: { accept: MediaType.ociManifest, ...headers } }, loopback);
}

/** The value of one exposition line, by its exact series key. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

beforeAll(async () => {
  origin = await startOriginRegistry("metrics");
  fx = await seedPullFixture(origin.registry, Date.now());
  const { registry, observability } = observed(origin.registry, "origin", asyncLocalScope());
  app = createApp(registry, { observability: { ...observability, log: (line) => logged.push(line) } });
}, 60_000);
afterAll(() => origin?.close());

describe("/metrics", () => {
  it("counts requests, what each cost in SQL and cache round trips, and the cache layer that answered", async () => {
    expect((await get(`/v2/${fx.app}/manifests/v1`)).status).toBe(200);
    expect((await get(`/v2/${fx.app}/manifests/v1`)).status).toBe(200);
    expect((await get(`/v2/${fx.app}/blobs/${fx.oci.layers[0]!.digest}`)).status).toBe(302);
    expect((await get(`/v2/${fx.app}/manifests/v1`, { authorization: "Bearer not.a.token" })).status).toBe(401);

    const text = await (await get("/metrics")).text();
    expect(sample(text, 'pier_http_requests_total{runtime="origin",family="manifest",method="GET",status="2xx"}')).toBe(2);
    expect(sample(text, 'pier_http_requests_total{runtime="origin",family="manifest",method="GET",status="4xx"}')).toBe(1);
    expect(sample(text, 'pier_http_requests_total{runtime="origin",family="blob",method="GET",status="3xx"}')).toBe(1);
    // The cold GET ran one statement, the warm one none.
    expect(sample(text, 'pier_sql_queries_per_request_bucket{runtime="origin",family="manifest",le="0"}')).toBe(2);
    expect(sample(text, 'pier_sql_queries_per_request_sum{runtime="origin",family="manifest"}')).toBe(1);
    expect(sample(text, 'pier_cache_round_trips_per_request_bucket{runtime="origin",family="manifest",le="0"}')).toBe(2);
    expect(sample(text, 'pier_pull_cache_lookups_total{runtime="origin",layer="isolate",result="hit"}')).toBe(1);
    expect(sample(text, 'pier_storage_signatures_total{runtime="origin"}')).toBe(1);
    expect(sample(text, 'pier_auth_failures_total{runtime="origin",reason="invalid_token"}')).toBe(1);
    expect(text).toMatch(/^# TYPE pier_http_request_duration_seconds histogram$/m);
  });

  it("counts received upload bytes", async () => {
    const token = await origin.token("writer", { [fx.app]: ["pull", "push"] });
    const body = "x".repeat(1234);
    const digest = `sha256:${createHash("sha256").update(body).digest("hex")}`;
    const response = await app.request(`https://${TEST_HOST}/v2/${fx.app}/blobs/uploads/?digest=${digest}`, {
      method: "POST",
      body,
      headers: { authorization: `Bearer ${token}` },
    });
    expect(response.status).toBe(201);
    const text = await (await get("/metrics")).text();
    expect(sample(text, 'pier_upload_bytes_total{runtime="origin"}')).toBe(1234);
    expect(sample(text, 'pier_uploads_in_flight{runtime="origin"}')).toBe(0);
  });

  it("merges the counts the edge aggregated in Redis", async () => {
    await origin.registry.cache.addToFields(EDGE_METRICS_KEY, { [edgeSeries]: 4 });
    expect(sample(await (await get("/metrics")).text(), edgeSeries)).toBe(4);
  });

  it("measures request durations with the stopwatch, into buckets below a millisecond", async () => {
    let ticks = 0;
    // Each reading 0.3 ms later: a request's start and end are one step apart.
    const stopwatch = { now: () => ++ticks * 0.3 };
    const { registry, observability } = observed(origin.registry, "origin", asyncLocalScope(), { stopwatch });
    const timed = createApp(registry, { observability });
    const url = `https://${TEST_HOST}/v2/${fx.app}/manifests/v1`;
    expect((await timed.request(url, { headers: { accept: MediaType.ociManifest } }, loopback)).status).toBe(200);
    const text = observability.metrics.registry.render();
    const series = (suffix: string, le?: string) =>
      `pier_http_request_duration_seconds_${suffix}{runtime="origin",family="manifest"${le === undefined ? "" : `,le="${le}"`}}`;
    expect(sample(text, series("bucket", "0.00025"))).toBe(0);
    expect(sample(text, series("bucket", "0.0005"))).toBe(1);
    expect(sample(text, series("sum"))).toBeCloseTo(0.0003, 9);
    expect(sample(text, series("count"))).toBe(1);
  });

  it("requires the bearer token when one is configured", async () => {
    const { registry, observability } = observed(origin.registry, "origin", asyncLocalScope());
    const locked = createApp(registry, { observability: { ...observability, metricsToken: "s3cret" } });
    expect((await locked.request(`https://${TEST_HOST}/metrics`)).status).toBe(401);
    expect((await locked.request(`https://${TEST_HOST}/metrics`, { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
    const open = await locked.request(`https://${TEST_HOST}/metrics`, { headers: { authorization: "Bearer s3cret" } });
    expect(open.status).toBe(200);
    expect(open.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
  });
});

describe("request ids and logs", () => {
  it("echoes a well-formed X-Request-Id, makes one otherwise, and logs one JSON line without secrets", async () => {
    logged.length = 0;
    const echoed = await get(`/v2/${fx.app}/tags/list`, { "x-request-id": "client-abc.123", authorization: "Bearer secret.token.value" });
    expect(echoed.headers.get("x-request-id")).toBe("client-abc.123");
    const made = await get("/v2/", { "x-request-id": "bad id with spaces" });
    expect(made.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    expect(logged).toHaveLength(2);
    const line = JSON.parse(logged[0]!);
    expect(line).toMatchObject({
      request_id: "client-abc.123",
      method: "GET",
      path: `/v2/${fx.app}/tags/list`,
      status: 401,
      family: "tags",
    });
    expect(typeof line.duration_ms).toBe("number");
    expect(logged.join("\n")).not.toContain("secret.token.value");
  });
});
