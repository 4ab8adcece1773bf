/**
 * `GET /metrics`: Prometheus text exposition of this process's metrics plus the edge's
 * counts aggregated in Redis. Origin and embedded only (the edge has no scrape
 * endpoint); behind a bearer token when PIER_METRICS_TOKEN is set.
 */
import type { Context } from "hono";
import { equalSecrets } from "../../core/auth/constant-time.js";
import { EDGE_METRICS_KEY } from "../../core/metrics/pier-metrics.js";
import type { AppServices } from "../context.js";

export function metricsEndpoint(services: AppServices) {
  return async function metricsEndpoint(c: Context): Promise<Response> {
    const observability = services.observability;
    if (!observability?.serveMetrics) return c.json({ error: "not found" }, 404);
    const token = observability.metricsToken;
    if (token !== null && !equalSecrets(c.req.header("authorization") ?? "", `Bearer ${token}`)) {
      return c.json({ error: "a bearer token is required" }, 401, { "WWW-Authenticate": 'Bearer realm="metrics"' });
    }
    const edge = await services.registry.cache.readFields(EDGE_METRICS_KEY).catch(() => ({}));
    return c.body(observability.metrics.registry.render(edge), 200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" });
  };
}
