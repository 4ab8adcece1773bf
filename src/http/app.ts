/**
 * createApp: the one Hono application every runtime serves. Mounts the route table
 * and turns every error into the right envelope (OCI error JSON under /v2, Quay's API
 * error JSON under /api/).
 */
import { FrontRuleStore } from "../core/routing/store.js";
import { strangler } from "./middleware/strangler.js";
import { Hono, type Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { RegistryError } from "../core/errors/registry-error.js";
import { queueMissing, replicationEnabled } from "../core/jobs/replication.js";
import { isDependencyUnavailable, unavailableDependency } from "../core/errors/dependency-unavailable.js";
import type { Registry } from "../core/registry.js";
import { isRejectedValue } from "../core/ports/sql.js";
import type { PullAuditBuffer } from "../core/audit-buffer.js";
import type { LastPulls } from "../core/proxy/last-pulls.js";
import type { RobotTokenUses } from "../core/auth/robot-token-uses.js";
import { FieldEncrypter } from "../core/auth/field-encryption.js";
import { VerifiedPasswords } from "../core/auth/verified-passwords.js";
import { PullCache } from "../core/resources/pull-cache.js";
import { upstreamExchangeRecorder } from "../core/metrics/pier-metrics.js";
import { composePullSource } from "../core/proxy/compose.js";
import { registryClient } from "../core/upstream/client.js";
import { OriginHandoff } from "../core/proxy/errors.js";
import { apiAuth } from "./api/auth.js";
import { apiError, apiErrorResponse } from "./api/errors.js";
import { plainRequestTarget } from "./api/request.js";
import { clientAddress, type ClientAddressSource } from "./client-ip.js";
import { bearerAuth } from "./middleware/bearer.js";
import { drainUnreadBody } from "./middleware/drain-body.js";
import { nsRouting } from "./middleware/ns-routing.js";
import type { AppServices, Observability } from "./context.js";
import { observe } from "./middleware/observe.js";
import { handOffToOrigin, type OriginFetch } from "./origin-handoff.js";
import { routeFamily, routes } from "./routes.js";
import { bearerChallenge } from "./urls.js";

export interface AppOptions {
  /** How the strangler front reaches legacy (default: the platform's fetch; Node runtimes pass nodeForwardFetch). */
  forwardFetch?: (request: Request) => Promise<Response>;
  /** How hand-offs reach the origin (default: the platform's fetch; the edge passes its mTLS certificate binding's). */
  originFetch?: OriginFetch;
  /** Where unexpected errors are reported; never given secrets. */
  onUnexpectedError?: (error: unknown, c: Context) => void;
  /** Metrics, request scope and request logs; absent in tests that do not look at them. */
  observability?: Observability;
  /** Where pulls are audited (flushed by the runtime); absent: pulls are not audited. */
  pullAudit?: PullAuditBuffer;
  /** Where tag pulls of cache organizations are recorded (flushed by the runtime); absent: not recorded. */
  lastPulls?: LastPulls;
  /** Collects when prefixed robot tokens were last used; the runtime flushes it. */
  robotTokenUses?: RobotTokenUses;
  /**
   * Read and discard request bodies a response left unread, up to this many bytes
   * (the edge: workerd resets such keep-alive connections); absent: left to the server.
   */
  drainUnreadBodyBytes?: number;
  /** How the runtime knows the client's address: "platform" on the edge, else the socket (default). */
  clientAddressFrom?: ClientAddressSource;
  /** The other processes serving the same port (the origin's workers); absent: this process serves alone. */
  siblings?: CacheSiblings;
}

/** How the pull caches of processes sharing a port hear of each other's writes. */
export interface CacheSiblings {
  /** Resolves once every other process dropped its isolate copies of `repository` (or a short timeout passed). */
  forget(repository: string): Promise<void>;
  /** What runs here when another process wrote `repository`. */
  onForget(listener: (repository: string) => void): void;
}

function registryErrorResponse(registry: Registry, c: Context, error: RegistryError): Response {
  const headers: Record<string, string> = { ...error.headers, "Docker-Distribution-API-Version": "registry/2.0" };
  if (error.status === 401) headers["WWW-Authenticate"] = bearerChallenge(registry.config, c.req.url, error.scope);
  return c.json(error.toJSON(), error.status as 400, headers);
}

export function createApp(registry: Registry, options: AppOptions = {}): Hono {
  const metrics = options.observability?.metrics;
  const cache = new PullCache({
    cache: registry.cache,
    clock: registry.clock,
    isolateTtlMs: registry.config.isolateCacheMs,
    maxAgeMs: registry.config.sharedCacheMaxAgeMs,
    // Behind the strangler front, writes can reach legacy without a bump: mutable answers get a shorter bound.
    mutableMaxAgeMs: registry.config.front.legacyUrl === null ? undefined : registry.config.front.mutableTtlMs,
    onLookup: metrics && ((layer, result) => metrics.pullCache.inc({ layer, result })),
    onBump: options.siblings && ((repository) => options.siblings!.forget(repository)),
  });
  options.siblings?.onForget((repository) => cache.forget(repository));
  const pull = { config: registry.config, sql: registry.sql, clock: registry.clock, cache };
  const fields = registry.config.databaseSecretKey === null ? null : new FieldEncrypter(registry.config.databaseSecretKey);
  const client = registryClient({
    upstream: registry.upstream,
    cache: registry.cache,
    clock: registry.clock,
    stopwatch: metrics?.stopwatch,
    onExchange: metrics && upstreamExchangeRecorder(metrics),
  });
  const services: AppServices = {
    registry,
    observability: options.observability ?? null,
    pullAudit: registry.config.auditPulls ? (options.pullAudit ?? null) : null,
    lastPulls: registry.config.proxyCache ? (options.lastPulls ?? null) : null,
    pull,
    source: composePullSource(registry, pull, {
      client,
      fields,
      onOutcome: metrics && ((upstream, result) => metrics.proxyLookups.inc({ upstream, result })),
    }),
    uploads: {
      sql: registry.sql,
      blobs: registry.blobs,
      hashing: registry.hashing,
      clock: registry.clock,
      cache,
      location: registry.config.storageLocation,
      hashStates: new Map(),
      quota: registry.config.quota,
      onBytesReceived: metrics && ((bytes) => metrics.uploadBytes.inc({}, bytes)),
    },
    manifestWrites: {
      sql: registry.sql,
      clock: registry.clock,
      cache,
      blobs: registry.blobs,
      quota: registry.config.quota,
      proxyCache: registry.config.proxyCache,
      // The replication job would find them on its sweep; queued now, they are copied on its next run.
      onBlobsPushed: replicationEnabled(registry.config)
        ? (ids) => queueMissing(registry.sql, { ids }, registry.config, registry.clock.now())
        : undefined,
    },
    registryClient: client,
    front:
      registry.config.front.legacyUrl === null
        ? null
        : new FrontRuleStore(registry.cache, registry.clock, registry.config.front.refreshMs, registry.config.front.seed),
    credentials: {
      sql: registry.sql,
      clock: registry.clock,
      fields,
      loginsInFlight: new Map(),
      verifiedPasswords: new VerifiedPasswords(registry.clock),
      robotTokenUses: options.robotTokenUses,
      onAccepted: metrics && ((kind) => metrics.credentialsAccepted.inc({ kind })),
    },
  };
  // Bound late: the platform's fetch as the runtime has it when a request goes out.
  const platformFetch = (request: Request) => fetch(request);
  const originFetch = options.originFetch ?? platformFetch;
  const app = new Hono();
  // First: a request for another upstream (containerd's ?ns=) is served as the rewritten request alone.
  app.use(
    "/v2/*",
    nsRouting(services, () => app),
  );
  if (options.drainUnreadBodyBytes !== undefined) app.use("*", drainUnreadBody(options.drainUnreadBodyBytes));
  app.use("*", clientAddress(options.clientAddressFrom ?? "socket", registry.config.trustedProxies));
  if (services.front !== null) {
    // Before everything that is Pier's own: what goes to legacy never meets Pier's auth or metrics.
    app.use(
      "*",
      strangler({
        config: registry.config,
        legacyUrl: registry.config.front.legacyUrl!,
        store: services.front,
        cache,
        metrics: metrics ?? null,
        forward: options.forwardFetch ?? platformFetch,
      }),
    );
  }
  if (services.observability) {
    app.use("*", observe(services));
    // Before authentication, so requests it refuses are counted under their route too.
    for (const route of routes) {
      const family = routeFamily(route);
      app.on(route.method, route.path, async (c: Context, next) => {
        c.set("family", family);
        await next();
      });
    }
  }
  app.use("/v2/*", bearerAuth(services));
  app.use("/api/v1/*", plainRequestTarget);
  app.use("/api/v1/*", apiAuth(services));
  for (const route of routes) app.on(route.method, route.path, route.handler(services));

  app.notFound((c) => {
    if (c.req.path.startsWith("/v2/")) {
      return registryErrorResponse(registry, c, new RegistryError("UNSUPPORTED", "the requested endpoint does not exist", {}, 404));
    }
    if (c.req.path.startsWith("/api/")) return apiError(registry.config, c, "not_found", 404, "Not Found");
    return c.json({ error: "not found" }, 404);
  });

  app.onError((error, c) => {
    // The edge hands what it cannot fill to the origin, which answers with the same app.
    if (error instanceof OriginHandoff) {
      return handOffToOrigin(c, registry.config.originUrl, originFetch).catch((failure: RegistryError) =>
        registryErrorResponse(registry, c, failure),
      );
    }
    if (c.req.path.startsWith("/api/")) return apiErrorResponse(registry.config, c, error, (e) => options.onUnexpectedError?.(e, c));
    if (error instanceof RegistryError) return registryErrorResponse(registry, c, error);
    if (error instanceof HTTPException) return error.getResponse();
    options.onUnexpectedError?.(error, c);
    if (isDependencyUnavailable(error)) {
      const message = `the registry ${unavailableDependency(error)} is unavailable; try again later`;
      return registryErrorResponse(registry, c, new RegistryError("UNAVAILABLE", message));
    }
    if (isRejectedValue(error)) {
      return registryErrorResponse(
        registry,
        c,
        new RegistryError("INVALID_REQUEST", "the request holds a value the registry cannot store"),
      );
    }
    const unexpected = new RegistryError("UNKNOWN", "internal error; the request was not completed");
    return registryErrorResponse(registry, c, unexpected);
  });

  return app;
}
