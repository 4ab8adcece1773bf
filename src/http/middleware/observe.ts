/**
 * Per-request observability: a request id (kept from the client when well-formed, else
 * new) echoed in `X-Request-Id`; the request run inside its scope so the port wrappers
 * count its SQL statements and cache round trips; metrics by route family and status
 * class; and, when enabled, one JSON log line per request (never headers or secrets).
 */
import type { Context, Next } from "hono";
import { statusClass, type RequestStats } from "../../core/metrics/pier-metrics.js";
import { clientIp, type AppServices } from "../context.js";

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function observe(services: AppServices) {
  const observability = services.observability!;
  const { metrics, scope } = observability;
  return async function observe(c: Context, next: Next): Promise<void> {
    const startedAt = services.registry.clock.now();
    const started = metrics.stopwatch.now();
    const incoming = c.req.header("x-request-id");
    const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
    const stats: RequestStats = { sql: 0, cache: 0 };
    await scope.run(stats, next);
    // On the response's own headers: c.header() after the handler would re-wrap the
    // response and turn its body into a stream (Node then streams even tiny bodies).
    try {
      c.res.headers.set("X-Request-Id", requestId);
    } catch {
      c.header("X-Request-Id", requestId);
    }
    const family = (c.get("family") as string | undefined) ?? "other";
    const status = c.res.status;
    const seconds = (metrics.stopwatch.now() - started) / 1000;
    metrics.requests.inc({ family, method: c.req.method, status: statusClass(status) });
    metrics.duration.observe({ family }, seconds);
    metrics.sqlPerRequest.observe({ family }, stats.sql);
    metrics.cachePerRequest.observe({ family }, stats.cache);
    observability.log?.(
      JSON.stringify({
        time: new Date(startedAt).toISOString(),
        request_id: requestId,
        method: c.req.method,
        path: new URL(c.req.url).pathname,
        status,
        family,
        duration_ms: Math.round(seconds * 1000 * 1000) / 1000,
        sql: stats.sql,
        cache: stats.cache,
        ip: clientIp(c),
      }),
    );
  };
}
