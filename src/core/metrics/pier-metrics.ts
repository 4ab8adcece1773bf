/**
 * Pier's metrics: what every runtime records, and the wrappers that count database
 * statements and cache round trips — in total and per request, through the request
 * scope — without the code that makes the calls knowing about it.
 */
import { CREDENTIAL_KINDS } from "../auth/credentials.js";
import type { Cache } from "../ports/cache.js";
import { systemStopwatch, type Stopwatch } from "../ports/clock.js";
import type { RedirectSigner } from "../ports/redirect-signer.js";
import type { LocationStore } from "../storage-locations.js";
import type { RequestScope } from "../ports/request-scope.js";
import type { Sql } from "../ports/sql.js";
import type { Upstream } from "../ports/upstream.js";
import type { UpstreamExchange } from "../upstream/types.js";
import { observedCache, observedSql } from "./observed-ports.js";
import { MetricsRegistry } from "./registry.js";

/** What one request cost; the request scope carries it. */
export interface RequestStats {
  sql: number;
  cache: number;
}

/** Seconds. A warm pull answers from the isolate cache in well under a millisecond, so the scale starts at 100 µs. */
export const LATENCY_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
] as const;
const COUNT_BUCKETS = [0, 1, 2, 3, 5, 10, 20];
const JOB_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

export type PierMetrics = ReturnType<typeof createPierMetrics>;

export interface PierMetricsOptions {
  /** What request, job and upstream durations are measured with (default: performance.now()). */
  stopwatch?: Stopwatch;
}

export function createPierMetrics(runtime: "edge" | "origin" | "embedded", options: PierMetricsOptions = {}) {
  const registry = new MetricsRegistry({ runtime });
  const metrics = {
    registry,
    stopwatch: options.stopwatch ?? systemStopwatch,
    requests: registry.counter("pier_http_requests_total", "HTTP requests by route family, method and status class."),
    duration: registry.histogram("pier_http_request_duration_seconds", "Time to the response's headers, by route family.", LATENCY_BUCKETS),
    sqlPerRequest: registry.histogram("pier_sql_queries_per_request", "SQL statements one request ran, by route family.", COUNT_BUCKETS),
    cachePerRequest: registry.histogram(
      "pier_cache_round_trips_per_request",
      "Shared-cache round trips of one request, by route family.",
      COUNT_BUCKETS,
    ),
    sqlQueries: registry.counter("pier_sql_queries_total", "SQL statements (a transaction counts once)."),
    cacheRoundTrips: registry.counter("pier_cache_round_trips_total", "Round trips to the shared cache (Redis)."),
    cacheErrors: registry.counter("pier_cache_errors_total", "Shared-cache calls that failed or timed out."),
    pullCache: registry.counter(
      "pier_pull_cache_lookups_total",
      "Pull-path cache lookups by layer (isolate, shared) and result (hit, miss).",
    ),
    signatures: registry.counter("pier_storage_signatures_total", "Signed blob redirect URLs issued."),
    upstream: registry.counter("pier_upstream_requests_total", "Requests to upstream registries by status class."),
    authFailures: registry.counter("pier_auth_failures_total", "Refused credentials and tokens, by reason."),
    frontRequests: registry.counter(
      "pier_front_requests_total",
      "Requests the strangler front routed, by target (pier, legacy), rule and status class.",
    ),
    frontDuration: registry.histogram(
      "pier_front_request_duration_seconds",
      "Time to the response's headers of requests the strangler front routed, by target.",
      LATENCY_BUCKETS,
    ),
    credentialsAccepted: registry.counter(
      "pier_auth_credentials_total",
      "Accepted Basic credentials by kind (password, app_token, robot_legacy, robot_prefixed, oauth_token, access_token).",
    ),
    uploadsInFlight: registry.gauge("pier_uploads_in_flight", "Upload requests streaming bytes right now."),
    uploadBytes: registry.counter("pier_upload_bytes_total", "Blob bytes received."),
    proxyUpstreamRequests: registry.counter(
      "pier_proxy_upstream_requests_total",
      "Proxy-cache requests to upstream registries by upstream, operation and HTTP status (or error).",
    ),
    proxyUpstreamSeconds: registry.histogram(
      "pier_proxy_upstream_seconds",
      "Time to an upstream registry's response headers, by upstream and operation.",
      LATENCY_BUCKETS,
    ),
    proxyUpstreamBytes: registry.counter(
      "pier_proxy_upstream_bytes_total",
      "Bytes upstream registries announced (Content-Length), by upstream.",
    ),
    proxyRateLimitRemaining: registry.gauge("pier_proxy_rate_limit_remaining", "The last ratelimit-remaining an upstream registry sent."),
    proxyLookups: registry.counter(
      "pier_proxy_lookups_total",
      "Proxy-cache reads by upstream and result (hit, miss, revalidated, stale, error).",
    ),
    jobRuns: registry.counter("pier_job_runs_total", "Job runs by job and result (success, error, locked: another runner held the lease)."),
    jobItems: registry.counter("pier_job_items_total", "Items the job's runs processed."),
    jobReclaimedBytes: registry.counter("pier_job_reclaimed_bytes_total", "Bytes of storage the job's runs reclaimed."),
    jobDuration: registry.histogram("pier_job_duration_seconds", "Time one run (one batch) of the job took.", JOB_BUCKETS),
    jobLastSuccess: registry.gauge("pier_job_last_success_timestamp_seconds", "When the job last ran without error (Unix seconds)."),
    buildInfo: registry.gauge("pier_build_info", "Always 1: the version and commit this process runs (Node runtimes)."),
  };
  // Series without labels exist from the start, at 0: rate() and alerts see them before their first event.
  for (const counter of [metrics.sqlQueries, metrics.cacheRoundTrips, metrics.cacheErrors, metrics.signatures, metrics.uploadBytes]) {
    counter.inc({}, 0);
  }
  metrics.uploadsInFlight.add({}, 0);
  for (const layer of ["isolate", "shared"]) for (const result of ["hit", "miss"]) metrics.pullCache.inc({ layer, result }, 0);
  for (const reason of ["invalid_token", "invalid_credentials"]) metrics.authFailures.inc({ reason }, 0);
  for (const kind of CREDENTIAL_KINDS) metrics.credentialsAccepted.inc({ kind }, 0);
  return metrics;
}

/**
 * Turns the registry client's exchanges into the pier_proxy_upstream_* metrics. The
 * rate-limit gauge holds the last value each upstream sent (the registry's gauges only add,
 * so the difference to the previous value is added).
 */
export function upstreamExchangeRecorder(metrics: PierMetrics): (event: UpstreamExchange) => void {
  const lastRemaining = new Map<string, number>();
  return function recordUpstreamExchange(event) {
    const upstream = event.upstream;
    metrics.proxyUpstreamRequests.inc({ upstream, operation: event.operation, status: String(event.status) });
    metrics.proxyUpstreamSeconds.observe({ upstream, operation: event.operation }, event.durationMs / 1000);
    if (event.bytes !== undefined) metrics.proxyUpstreamBytes.inc({ upstream }, event.bytes);
    if (event.rateLimitRemaining !== undefined) {
      metrics.proxyRateLimitRemaining.add({ upstream }, event.rateLimitRemaining - (lastRemaining.get(upstream) ?? 0));
      lastRemaining.set(upstream, event.rateLimitRemaining);
    }
  };
}

/** `2xx`, `4xx`, … */
export function statusClass(status: number): string {
  return `${Math.floor(status / 100)}xx`;
}

/** The Sql port, counting statements in total and for the request in scope. */
export function countedSql(sql: Sql, metrics: PierMetrics, scope: RequestScope<RequestStats>): Sql {
  return observedSql(sql, () => {
    metrics.sqlQueries.inc();
    const stats = scope.current();
    if (stats) stats.sql++;
  });
}

/** The Cache port, counting round trips (in total and for the request in scope) and failures. */
export function countedCache(cache: Cache, metrics: PierMetrics, scope: RequestScope<RequestStats>): Cache {
  return observedCache(
    cache,
    () => {
      metrics.cacheRoundTrips.inc();
      const stats = scope.current();
      if (stats) stats.cache++;
    },
    () => metrics.cacheErrors.inc(),
  );
}

export function countedSigner(signer: RedirectSigner, metrics: PierMetrics): RedirectSigner {
  return {
    async sign(request) {
      const url = await signer.sign(request);
      if (url !== null) metrics.signatures.inc();
      return url;
    },
  };
}

export function countedUpstream(upstream: Upstream, metrics: PierMetrics): Upstream {
  return {
    async fetch(request) {
      try {
        const response = await upstream.fetch(request);
        metrics.upstream.inc({ status: statusClass(response.status) });
        return response;
      } catch (error) {
        metrics.upstream.inc({ status: "error" });
        throw error;
      }
    },
  };
}

/** The registry's adapters wrapped so every SQL statement, cache round trip, signature and upstream call is counted. */
export function instrumentPorts<
  R extends { sql: Sql; cache: Cache; signer: RedirectSigner | null; upstream: Upstream; locations?: ReadonlyMap<string, LocationStore> },
>(registry: R, metrics: PierMetrics, scope: RequestScope<RequestStats>): R {
  return {
    ...registry,
    sql: countedSql(registry.sql, metrics, scope),
    cache: countedCache(registry.cache, metrics, scope),
    signer: registry.signer && countedSigner(registry.signer, metrics),
    locations:
      registry.locations &&
      new Map(
        [...registry.locations].map(([name, store]) => [name, { ...store, signer: store.signer && countedSigner(store.signer, metrics) }]),
      ),
    upstream: countedUpstream(registry.upstream, metrics),
  };
}

/** Where the edge's counts accumulate in Redis; the origin's /metrics merges them in. */
export const EDGE_METRICS_KEY = "pier:metrics:edge";

/**
 * Ships the edge isolate's counter growth to Redis at most every `intervalMs`, in one
 * round trip, from the Worker's waitUntil — never once per request. Counts of an isolate
 * that is evicted before its next flush are lost (at most one interval's worth).
 */
export function edgeMetricsShipper(
  metrics: PierMetrics,
  cache: Cache,
  now: () => number,
  intervalMs = 10_000,
): (force?: boolean) => Promise<void> {
  let last = now();
  /** `force`: ship now (after a scheduled run, which may be the isolate's last act). */
  return async function shipIfDue(force = false) {
    if (!force && now() - last < intervalMs) return;
    last = now();
    const deltas = metrics.registry.takeDeltas();
    if (Object.keys(deltas).length > 0) await cache.addToFields(EDGE_METRICS_KEY, deltas).catch(() => {});
  };
}
