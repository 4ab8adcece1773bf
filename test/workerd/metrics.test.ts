/**
 * The edge's observability inside workerd: the request scope (AsyncLocalStorage under
 * nodejs_als) counts each request's SQL and Redis round trips, the real Worker entry
 * answers with a request id, and counts reach Redis in batches — one round trip per
 * flush interval, never one per request.
 */
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { asyncLocalScope } from "../../src/adapters/scope/async-local.js";
import { createPierMetrics, EDGE_METRICS_KEY, edgeMetricsShipper } from "../../src/core/metrics/pier-metrics.js";
import { createApp } from "../../src/http/app.js";
import { observed } from "../../src/http/observability.js";
import { edgeRegistry } from "../../workers/edge.js";
import { countingCache } from "../support/counting.js";

const worker = (exports as unknown as { default: { fetch(request: Request): Promise<Response> } }).default;

describe("edge observability", () => {
  it("answers through the Worker entry with a request id", async () => {
    const response = await worker.fetch(new Request("https://registry.example/v2/", { headers: { "x-request-id": "edge-probe-1" } }));
    expect(response.status).toBe(401);
    expect(response.headers.get("x-request-id")).toBe("edge-probe-1");
  });

  it("counts each request's SQL statements and Redis round trips through the request scope", async () => {
    const { registry, observability } = observed(edgeRegistry(env), "edge", asyncLocalScope());
    const app = createApp(registry, { observability });
    await app.request("https://registry.example/v2/nobody/nothing/manifests/v1");
    const text = observability.metrics.registry.render();
    // Cold: one SQL statement; the cache was consulted at least once.
    expect(text).toContain('pier_sql_queries_per_request_sum{runtime="edge",family="manifest"} 1\n');
    expect(text).toMatch(/pier_cache_round_trips_per_request_count\{runtime="edge",family="manifest"\} 1\n/);
    expect(text).toContain('pier_http_requests_total{runtime="edge",family="manifest",method="GET",status="4xx"} 1\n');
  });

  it("ships counts to Redis once per interval in one round trip", async () => {
    const metrics = createPierMetrics("edge");
    const cache = countingCache(edgeRegistry(env).cache);
    let now = 0;
    const ship = edgeMetricsShipper(metrics, cache.target, () => now, 10_000);
    const probe = crypto.randomUUID();
    metrics.requests.inc({ family: "blob", method: "GET", status: "3xx", probe }, 3);
    now = 9_999;
    await ship();
    expect(cache.count()).toBe(0);
    now = 10_000;
    await ship();
    expect(cache.count()).toBe(1);
    metrics.requests.inc({ family: "blob", method: "GET", status: "3xx", probe }, 2);
    now = 20_000;
    await ship();
    expect(cache.count()).toBe(2);
    now = 30_000;
    await ship();
    expect(cache.count()).toBe(2);
    const fields = await cache.target.readFields(EDGE_METRICS_KEY);
    expect(fields[`pier_http_requests_total{runtime="edge",family="blob",method="GET",status="3xx",probe="${probe}"}`]).toBe(5);
  });

  it("ships whole histograms through Upstash: the origin's merge renders the edge's _sum even when it stayed 0", async () => {
    const metrics = createPierMetrics("edge");
    const cache = edgeRegistry(env).cache;
    const probe = crypto.randomUUID();
    // A warm pull: no SQL statement, so the sum never grows.
    metrics.sqlPerRequest.observe({ family: "manifest", probe }, 0);
    metrics.sqlPerRequest.observe({ family: "manifest", probe }, 0);
    await edgeMetricsShipper(metrics, cache, () => 0)(true);
    const merged = createPierMetrics("origin").registry.render(await cache.readFields(EDGE_METRICS_KEY));
    const labels = `runtime="edge",family="manifest",probe="${probe}"`;
    expect(merged).toContain(
      [`pier_sql_queries_per_request_bucket{${labels},le="0"} 2`, `pier_sql_queries_per_request_bucket{${labels},le="1"} 2`].join("\n"),
    );
    expect(merged).toContain(
      [`pier_sql_queries_per_request_sum{${labels}} 0`, `pier_sql_queries_per_request_count{${labels}} 2`].join("\n"),
    );
  });
});
