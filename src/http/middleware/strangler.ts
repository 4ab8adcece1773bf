/**
 * The strangler front (docs/strangler.md): mounted before authentication, it lets the
 * requests its rules give to Pier through and proxies the rest to the legacy Quay —
 * method, path, query and headers (minus hop-by-hop), bodies streamed both ways,
 * redirects untouched. A legacy that does not answer in time, or at all, gets the path
 * family's error shape, never a hang. After legacy accepts a write for a repository,
 * Pier's cached answers for that repository are dropped, so a pull Pier answers next
 * sees it.
 */
import type { Context, Next } from "hono";
import { RegistryError } from "../../core/errors/registry-error.js";
import { statusClass, type PierMetrics } from "../../core/metrics/pier-metrics.js";
import type { PullCache } from "../../core/resources/pull-cache.js";
import { classifyRequest, routeRequest, type FrontRequest } from "../../core/routing/rules.js";
import type { FrontRuleStore } from "../../core/routing/store.js";
import type { RegistryConfig } from "../../core/config.js";
import { apiError } from "../api/errors.js";
import { clientIp } from "../context.js";
import { forwardedRequestHeaders, returnedResponse } from "../forwarding.js";

/** Always Pier's: the front's own controls, metrics and health. */
const PIER_ONLY = /^\/(api\/v1\/superuser\/front(\/|$)|metrics$|health\/)/;

export interface FrontOptions {
  config: RegistryConfig;
  legacyUrl: string;
  store: FrontRuleStore;
  cache: PullCache;
  metrics: PierMetrics | null;
  /** How requests reach legacy: the platform's fetch, or the Node runtimes' streaming one. */
  forward: (request: Request) => Promise<Response>;
}

function unavailable(c: Context, config: RegistryConfig, family: string, detail: string): Response {
  if (family.startsWith("v2")) {
    return c.json(new RegistryError("UNAVAILABLE", detail).toJSON(), 503, { "Docker-Distribution-API-Version": "registry/2.0" });
  }
  if (family.startsWith("api:")) return apiError(config, c, "downstream_issue", 503, detail);
  return c.json({ error: detail }, 502);
}

/** The request as legacy receives it: the client's address added to X-Forwarded-For, a request id carried on. */
function legacyRequest(c: Context, legacyUrl: string, requestId: string, signal: AbortSignal): Request {
  const url = new URL(c.req.url);
  const headers = forwardedRequestHeaders(c.req.raw);
  const client = clientIp(c);
  if (client !== null) headers.set("X-Forwarded-For", [c.req.header("x-forwarded-for"), client].filter(Boolean).join(", "));
  headers.set("X-Request-ID", requestId);
  // Legacy answers uncompressed: Node's fetch would decode a compressed body and leave its Content-Encoding.
  headers.delete("accept-encoding");
  const hasBody = c.req.method !== "GET" && c.req.method !== "HEAD" && c.req.raw.body !== null;
  return new Request(`${legacyUrl}${url.pathname}${url.search}`, {
    method: c.req.method,
    headers,
    body: hasBody ? c.req.raw.body : null,
    redirect: "manual",
    signal,
    ...(hasBody && { duplex: "half" }),
  } as RequestInit);
}

async function proxyToLegacy(c: Context, options: FrontOptions, request: FrontRequest): Promise<Response> {
  const requestId = c.req.header("x-request-id") ?? crypto.randomUUID();
  const controller = new AbortController();
  // Only until legacy starts answering: a long blob download must not be cut.
  const timer = setTimeout(() => controller.abort(), options.config.front.timeoutMs);
  let response: Response;
  try {
    response = await options.forward(legacyRequest(c, options.legacyUrl, requestId, controller.signal));
  } catch {
    const detail = controller.signal.aborted
      ? `the legacy registry did not answer within ${options.config.front.timeoutMs} ms`
      : "the legacy registry is unavailable";
    return unavailable(c, options.config, request.family, detail);
  } finally {
    clearTimeout(timer);
  }
  const isWrite = c.req.method !== "GET" && c.req.method !== "HEAD";
  if (isWrite && response.status < 400 && request.repository !== null) {
    // Legacy changed this repository: Pier's cached tags, listings and permissions for it go.
    await options.cache.bump(request.repository).catch(() => {});
  }
  const answer = returnedResponse(c.req.method, response);
  answer.headers.set("X-Request-ID", requestId);
  return answer;
}

export function strangler(options: FrontOptions) {
  return async function strangler(c: Context, next: Next): Promise<Response | void> {
    if (PIER_ONLY.test(c.req.path)) return next();
    const path = c.req.path;
    // Only a token request names its repository in the query; parsing it for every pull would cost.
    const scope = path === "/v2/auth" ? (c.req.query("scope") ?? null) : null;
    const request = classifyRequest(c.req.method, path, scope, options.config.libraryNamespace);
    const { target, rule } = routeRequest(await options.store.current(), request);
    const stopwatch = options.metrics?.stopwatch;
    const started = stopwatch?.now() ?? 0;
    let response: Response;
    if (target === "legacy") {
      response = await proxyToLegacy(c, options, request);
    } else {
      await next();
      response = c.res;
    }
    if (options.metrics && stopwatch) {
      options.metrics.frontRequests.inc({ target, rule, status: statusClass(response.status) });
      options.metrics.frontDuration.observe({ target }, (stopwatch.now() - started) / 1000);
    }
    if (target === "legacy") return response;
  };
}
