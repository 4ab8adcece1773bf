/**
 * What handlers share: the registry's adapters, the pull-path services built on them,
 * and the per-request values middleware sets (the caller) and route params parse into.
 */
import type { FrontRuleStore } from "../core/routing/store.js";
import type { Context } from "hono";
import { anonymousCaller, type Caller } from "../core/auth/access.js";
import { RegistryError } from "../core/errors/registry-error.js";
import { parseSupportedDigest, type Digest } from "../core/model/digest.js";
import { parseDistributionName, type RepositoryName } from "../core/model/names.js";
import { hasControlCharacter } from "../core/model/text.js";
import type { Registry } from "../core/registry.js";
import type { PullAuditBuffer } from "../core/audit-buffer.js";
import type { LastPulls } from "../core/proxy/last-pulls.js";
import type { CredentialDeps } from "../core/auth/credentials.js";
import type { PierMetrics, RequestStats } from "../core/metrics/pier-metrics.js";
import type { RequestScope } from "../core/ports/request-scope.js";
import type { ManifestWriteDeps } from "../core/push/manifests.js";
import { resolvePushTarget, type PushTarget } from "../core/push/target.js";
import type { UploadDeps } from "../core/push/uploads.js";
import type { PullDeps } from "../core/resources/deps.js";
import type { RegistryClient } from "../core/upstream/types.js";
import type { PullSource } from "../core/resources/source.js";
import type { ClientRegion } from "../core/storage-topology.js";

/** What a runtime records about requests (see core/metrics). */
export interface Observability {
  metrics: PierMetrics;
  scope: RequestScope<RequestStats>;
  /** Receives one JSON line per request; null keeps request logs quiet. */
  log: ((line: string) => void) | null;
  /** Whether this runtime answers GET /metrics (the edge has no scrape endpoint). */
  serveMetrics: boolean;
  /** Bearer token GET /metrics requires from anyone; null: loopback callers only. */
  metricsToken: string | null;
  /**
   * The merged samples of every process serving this port (the origin's workers), this
   * one included; absent: /metrics renders this process's own.
   */
  groupSamples?: () => Promise<Record<string, number>>;
}

export interface AppServices {
  registry: Registry;
  observability: Observability | null;
  /** Collects pull_repo audit entries; null when pulls are not audited. */
  pullAudit: PullAuditBuffer | null;
  /** Collects the last pull of each tag in cache organizations (eviction's order); null when the proxy cache is off. */
  lastPulls: LastPulls | null;
  pull: PullDeps;
  /** Where pulls are answered from: the local source, wrapped by the proxy cache when enabled. */
  source: PullSource;
  credentials: CredentialDeps;
  uploads: UploadDeps;
  manifestWrites: ManifestWriteDeps;
  /** Requests to upstream registries (proxy cache): over registry.upstream, tokens and budgets in registry.cache. */
  registryClient: RegistryClient;
  /** The strangler front's rules; null when the front is off (no PIER_LEGACY_URL). */
  front: FrontRuleStore | null;
}

/** The authenticated caller, or anonymous. */
export function callerOf(c: Context): Caller {
  return (c.get("caller") as Caller | undefined) ?? anonymousCaller;
}

/** The request's path as sent (percent-escapes kept), without parsing the whole URL: this runs on every pull. */
function rawPath(url: string): string {
  const start = url.indexOf("/", url.indexOf("://") + 3);
  const query = url.indexOf("?", start);
  return start === -1 ? "/" : url.slice(start, query === -1 ? undefined : query);
}

/**
 * The `:name` route param as a repository name; NAME_INVALID when malformed. Routing
 * decodes the path (`ns%2Frepo` arrives as `ns/repo`), so the name must also stand
 * verbatim in the raw path: nothing percent-encoded.
 */
export function repositoryParam(c: Context, services: AppServices): RepositoryName {
  const raw = c.req.param("name") ?? "";
  const verbatim = rawPath(c.req.url).startsWith(`/v2/${raw}/`);
  const name = verbatim ? parseDistributionName(raw, services.registry.config.libraryNamespace) : null;
  if (name === null) throw new RegistryError("NAME_INVALID", undefined, { name: raw });
  return name;
}

/** Longest text query value (`last`, `artifactType`): above any full repository name (255 + 1 + 255), tag or media type. */
const MAX_TEXT_QUERY_LENGTH = 512;

/** A free-text query parameter, trimmed; null when absent or blank, INVALID_REQUEST with control characters or overlong. */
export function textQuery(c: Context, param: string): string | null {
  const value = c.req.query(param)?.trim();
  if (!value) return null;
  if (hasControlCharacter(value) || value.length > MAX_TEXT_QUERY_LENGTH) {
    throw new RegistryError("INVALID_REQUEST", `invalid ${param} parameter`, { parameter: param });
  }
  return value;
}

/** A digest route param; DIGEST_INVALID when malformed or in an algorithm other than sha256 and sha512. */
export function digestParam(c: Context, param: string): Digest {
  const raw = c.req.param(param) ?? "";
  const digest = parseSupportedDigest(raw);
  if (digest === null) throw new RegistryError("DIGEST_INVALID", "invalid digest", { digest: raw });
  return digest;
}

/** `<path>?<query>` of a relative `Link: <…>; rel="next"` header (Quay's links are relative). */
export function nextLink(path: string, query: Record<string, string | number>): string {
  const search = new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)]));
  return `<${path}?${search.toString()}>; rel="next"`;
}

/** The client address, as the runtime's source resolved it (see client-ip.ts). */
export function clientIp(c: Context): string | null {
  return (c.get("clientIp") as string | null | undefined) ?? null;
}

/**
 * The client's region as Cloudflare's edge reports it (`request.cf`); null on the Node
 * runtimes, where no platform stamps requests and reads follow the configured preference.
 */
export function clientRegion(c: Context): ClientRegion | null {
  const cf = (c.req.raw as Request & { cf?: unknown }).cf;
  if (typeof cf !== "object" || cf === null) return null;
  const { country, continent } = cf as Record<string, unknown>;
  return { country: typeof country === "string" ? country : undefined, continent: typeof continent === "string" ? continent : undefined };
}

/** The repository a write request goes to (created on first push), with who is writing. */
export function writeTarget(
  c: Context,
  services: AppServices,
  name: RepositoryName,
  mountFrom?: RepositoryName | null,
): Promise<PushTarget> {
  return resolvePushTarget(services.manifestWrites, {
    caller: callerOf(c),
    name,
    mountFrom,
    ip: clientIp(c),
    userAgent: c.req.header("user-agent") ?? null,
  });
}
