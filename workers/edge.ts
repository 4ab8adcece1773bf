/**
 * The edge Worker: the same app on Cloudflare Workers, reaching PostgreSQL through
 * Neon (HTTP for reads, WebSocket for transactions), Redis through Upstash REST and
 * storage through signed S3 requests. Built once per isolate from its bindings.
 */
import type { ExecutionContext, ScheduledController } from "@cloudflare/workers-types";
import type { Hono } from "hono";
import { upstashCache } from "../src/adapters/cache/upstash.js";
import { guardedUpstream } from "../src/adapters/upstream/guarded-fetch.js";
import { neonSql } from "../src/adapters/sql/neon.js";
import { serviceKeys, signingKeyFromJwk } from "../src/core/auth/service-keys.js";
import {
  loadDependencyTimeouts,
  loadRegistryConfig,
  readInteger,
  readString,
  requireString,
  type ConfigSource,
} from "../src/core/config.js";
import { runScheduledJobs } from "../src/core/jobs/runner.js";
import { systemClock } from "../src/core/ports/clock.js";
import { prefixedCache } from "../src/core/prefixed-cache.js";
import type { Registry } from "../src/core/registry.js";
import { asyncLocalScope } from "../src/adapters/scope/async-local.js";
import { digestStreamHashing } from "../src/adapters/hashing/digest-stream.js";
import { PullAuditBuffer } from "../src/core/audit-buffer.js";
import { LastPulls } from "../src/core/proxy/last-pulls.js";
import { RobotTokenUses } from "../src/core/auth/robot-token-uses.js";
import { edgeMetricsShipper, type PierMetrics } from "../src/core/metrics/pier-metrics.js";
import { createApp } from "../src/http/app.js";
import type { OriginFetch } from "../src/http/origin-handoff.js";
import { observed } from "../src/http/observability.js";
import { openStorage } from "./storage-locations.js";

export type EdgeEnv = ConfigSource;

/** The edge's adapters, from its bindings (exported for the workerd tests). */
export function edgeRegistry(env: EdgeEnv): Registry {
  const config = loadRegistryConfig(env);
  const { blobs, signer, locations } = openStorage(env, config, systemClock, null);
  const timeouts = loadDependencyTimeouts(env);
  const sql = neonSql({
    connectionString: requireString(env, "DATABASE_URL"),
    fetchEndpoint: readString(env, "NEON_FETCH_ENDPOINT") ?? undefined,
    wsProxy: readString(env, "NEON_WS_PROXY") ?? undefined,
    timeouts,
  });
  const signingKey = readString(env, "PIER_SIGNING_KEY");
  return {
    config,
    sql,
    cache: prefixedCache(
      upstashCache({
        url: requireString(env, "UPSTASH_REDIS_REST_URL"),
        token: requireString(env, "UPSTASH_REDIS_REST_TOKEN"),
        timeoutMs: timeouts.cacheMs,
      }),
      readString(env, "PIER_REDIS_PREFIX") ?? "",
    ),
    blobs,
    signer,
    locations,
    clock: systemClock,
    keys: serviceKeys({ sql, clock: systemClock }),
    // With a registered key in its secrets the edge issues tokens too; else only the origin does.
    signingKey: signingKey === null ? null : signingKeyFromJwk(signingKey),
    upstream: guardedUpstream({ policy: { allowedHosts: config.ssrfAllowedHosts }, timeoutMs: timeouts.upstreamMs }),
    hashing: null,
    streamHashing: digestStreamHashing,
  };
}

/**
 * With mutual TLS to the origin (docs/security.md), hand-offs go through Cloudflare's mTLS
 * certificate binding `ORIGIN_MTLS` (wrangler.toml `mtls_certificates`), whose fetch presents
 * the edge's client certificate; without it, through the platform's fetch.
 */
function originFetchOf(env: EdgeEnv): OriginFetch | undefined {
  const binding = (env as Readonly<Record<string, unknown>>).ORIGIN_MTLS;
  if (binding === undefined) return undefined;
  if (typeof (binding as { fetch?: unknown }).fetch !== "function") {
    throw new Error("ORIGIN_MTLS must be an mTLS certificate binding (wrangler.toml mtls_certificates), not a variable");
  }
  const certificate = binding as { fetch(request: Request): Promise<Response> };
  return (request) => certificate.fetch(request);
}

interface Built {
  env: EdgeEnv;
  registry: Registry;
  app: Hono;
  metrics: PierMetrics;
  /** Ships the isolate's metrics to Redis; `force` even when the last shipment was recent. */
  shipMetrics: (force?: boolean) => Promise<void>;
  /** Work for after the response: the metrics batch, the pull audit batch and the last pulls, each when due. */
  afterResponse: () => Promise<void>;
}

let built: Built | undefined;

function build(env: EdgeEnv): Built {
  if (built?.env === env) return built;
  const { registry, observability } = observed(edgeRegistry(env), "edge", asyncLocalScope());
  const pullAudit = new PullAuditBuffer(() => Date.now());
  const lastPulls = new LastPulls(() => Date.now());
  const robotTokenUses = new RobotTokenUses(() => Date.now());
  const app = createApp(registry, {
    observability,
    pullAudit,
    lastPulls,
    robotTokenUses,
    // workerd resets keep-alive connections whose request body a response left unread.
    drainUnreadBodyBytes: readInteger(env, "PIER_EDGE_DRAIN_BYTES", 64 * 1024 * 1024),
    clientAddressFrom: "platform",
    originFetch: originFetchOf(env),
    onUnexpectedError: (error, c) => console.error(`${c.req.method} ${c.req.path} failed:`, error),
  });
  const shipMetrics = edgeMetricsShipper(observability.metrics, registry.cache, () => Date.now());
  const afterResponse = async () => {
    await Promise.all([
      shipMetrics(),
      pullAudit.flush(registry.sql).catch((error: unknown) => console.error("pull audit flush failed:", error)),
      lastPulls.flush(registry.sql).catch((error: unknown) => console.error("last pull flush failed:", error)),
      robotTokenUses.flush(registry.sql).catch((error: unknown) => console.error("robot token use flush failed:", error)),
    ]);
  };
  built = { env, registry, app, metrics: observability.metrics, shipMetrics, afterResponse };
  return built;
}

export default {
  async fetch(request: Request, env: EdgeEnv, ctx: ExecutionContext): Promise<Response> {
    const { app, afterResponse } = build(env);
    const response = await app.fetch(request, env, ctx as never);
    // Metrics and pull audit entries leave in batches, after the response.
    ctx.waitUntil(afterResponse());
    return response;
  },
  async scheduled(controller: ScheduledController, env: EdgeEnv, ctx: ExecutionContext): Promise<void> {
    const { registry, metrics, shipMetrics } = build(env);
    ctx.waitUntil(
      (async () => {
        const outcomes = await runScheduledJobs(registry, controller.cron, metrics);
        for (const outcome of outcomes) if (outcome.error) console.error(`job ${outcome.name} failed: ${outcome.error}`);
        // The isolate may not serve a request before it is evicted: ship the job metrics now.
        await shipMetrics(true);
      })(),
    );
  },
};
