/**
 * `GET /metrics`: Prometheus text exposition of this process's metrics (the sum over the
 * origin's workers when several serve the port) plus the edge's counts aggregated in Redis. Origin and embedded only (the edge has no scrape
 * endpoint). With PIER_METRICS_TOKEN set, that bearer token is required from anyone
 * (compared in constant time); without it only loopback callers (after
 * PIER_TRUSTED_PROXIES resolution) are answered, and never a request carrying forwarding
 * headers: a reverse proxy on the same host makes every client look local, but it says
 * so — a scraper does not. A public origin never shows its metrics to strangers.
 */
import type { Context } from "hono";
import { equalSecrets } from "../../core/auth/constant-time.js";
import { replicationEnabled, replicationExposition, replicationStats } from "../../core/jobs/replication.js";
import { EDGE_METRICS_KEY } from "../../core/metrics/pier-metrics.js";
import { inNetworks, parseCidr } from "../../core/upstream-guard.js";
import { clientIp, type AppServices } from "../context.js";

const LOOPBACK = ["127.0.0.0/8", "::1"].map((text) => parseCidr(text)!);

/** Headers only a proxy adds: with one of them the request came through a proxy, whatever its socket says. */
const FORWARDING_HEADERS = ["forwarded", "x-forwarded-for", "x-real-ip", "cf-connecting-ip", "true-client-ip"] as const;

/** Who may scrape, as the start line says it. */
export function describeMetricsAccess(token: string | null): string {
  return token === null
    ? "GET /metrics answers loopback callers only (set PIER_METRICS_TOKEN to scrape from elsewhere)"
    : "GET /metrics requires the PIER_METRICS_TOKEN bearer token";
}

function fromLoopbackDirectly(c: Context): boolean {
  return inNetworks(clientIp(c) ?? "", LOOPBACK) && FORWARDING_HEADERS.every((name) => c.req.header(name) === undefined);
}

export function metricsEndpoint(services: AppServices) {
  return async function metricsEndpoint(c: Context): Promise<Response> {
    const observability = services.observability;
    if (!observability?.serveMetrics) return c.json({ error: "not found" }, 404);
    const token = observability.metricsToken;
    if (token !== null && !equalSecrets(c.req.header("authorization") ?? "", `Bearer ${token}`)) {
      return c.json({ error: "a bearer token is required" }, 401, { "WWW-Authenticate": 'Bearer realm="metrics"' });
    }
    if (token === null && !fromLoopbackDirectly(c)) {
      return c.json(
        {
          error:
            "metrics are served to loopback callers connecting directly; set PIER_METRICS_TOKEN to scrape from elsewhere or through a proxy",
        },
        403,
      );
    }
    const [edge, group] = await Promise.all([
      services.registry.cache.readFields(EDGE_METRICS_KEY).catch(() => ({})),
      observability.groupSamples?.(),
    ]);
    let text = observability.metrics.registry.render(edge, group);
    if (replicationEnabled(services.registry.config)) {
      const stats = await replicationStats(services.registry).catch(() => null);
      if (stats !== null) text += (text.endsWith("\n") || text === "" ? "" : "\n") + replicationExposition(stats);
    }
    return c.body(text, 200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" });
  };
}
