/**
 * `GET /metrics`: Prometheus text exposition of this process's metrics plus the edge's
 * counts aggregated in Redis. Origin and embedded only (the edge has no scrape
 * endpoint). With PIER_METRICS_TOKEN set, that bearer token is required from anyone;
 * without it only loopback callers (after PIER_TRUSTED_PROXIES resolution) are answered,
 * so a public origin never shows its metrics to strangers.
 */
import type { Context } from "hono";
import { equalSecrets } from "../../core/auth/constant-time.js";
import { EDGE_METRICS_KEY } from "../../core/metrics/pier-metrics.js";
import { inNetworks, parseCidr } from "../../core/upstream-guard.js";
import { clientIp, type AppServices } from "../context.js";

const LOOPBACK = ["127.0.0.0/8", "::1"].map((text) => parseCidr(text)!);

export function metricsEndpoint(services: AppServices) {
  return async function metricsEndpoint(c: Context): Promise<Response> {
    const observability = services.observability;
    if (!observability?.serveMetrics) return c.json({ error: "not found" }, 404);
    const token = observability.metricsToken;
    if (token !== null && !equalSecrets(c.req.header("authorization") ?? "", `Bearer ${token}`)) {
      return c.json({ error: "a bearer token is required" }, 401, { "WWW-Authenticate": 'Bearer realm="metrics"' });
    }
    if (token === null && !inNetworks(clientIp(c) ?? "", LOOPBACK)) {
      return c.json({ error: "metrics are served to loopback callers only; set PIER_METRICS_TOKEN to scrape from elsewhere" }, 403);
    }
    const edge = await services.registry.cache.readFields(EDGE_METRICS_KEY).catch(() => ({}));
    return c.body(observability.metrics.registry.render(edge), 200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" });
  };
}
