/**
 * Typed configuration, read from a string map (Worker bindings or process.env) in
 * one place. Names follow Quay's settings where one exists (SERVER_HOSTNAME, …).
 */
import { ALL_TO_LEGACY, parseFrontRules, type FrontRules } from "./routing/rules.js";
import { assertValidPolicy, InvalidAutoPrunePolicy, policyConfigOf, type AutoPrunePolicyConfig } from "./autoprune/policy.js";
import { loadStorageTopology, type StorageTopology } from "./storage-topology.js";
import { parseCidr } from "./upstream-guard.js";

export interface RegistryConfig {
  /** Quay's SERVER_HOSTNAME: the token audience and the host in absolute URLs; the request's Host when unset. */
  serverHostname: string | null;
  /** Quay's PREFERRED_URL_SCHEME; the request's scheme when unset. */
  urlScheme: "http" | "https" | null;
  /** Quay's FEATURE_ANONYMOUS_ACCESS: public repositories pullable without credentials. */
  anonymousAccess: boolean;
  /** Quay's LIBRARY_NAMESPACE: where single-component names live. */
  libraryNamespace: string;
  /** Quay's SUPER_USERS. */
  superUsers: readonly string[];
  /** Quay's DEFAULT_TAG_EXPIRATION in seconds: the time-machine window of new namespaces. */
  defaultTagExpirationSeconds: number;
  /** Lifetime of signed blob redirect URLs (Quay: 600 s). */
  redirectExpirySeconds: number;
  /** Hosts and CIDRs upstream fetches may reach although non-public (Quay's SSRF_ALLOWED_HOSTS). */
  ssrfAllowedHosts: readonly string[];
  /** Name of this registry's storage in `imagestoragelocation` (Quay's DISTRIBUTED_STORAGE_CONFIG key): the writer's location, the preference's first. */
  storageLocation: string;
  /** Every storage location, read preference, replication targets and region map (storage-topology.ts). */
  storage: StorageTopology;
  /** Quay's FEATURE_PUBLIC_CATALOG: anonymous callers see public repositories in `_catalog`. */
  publicCatalog: boolean;
  /** How long an isolate serves a pull answer without asking the shared cache: the staleness bound. */
  isolateCacheMs: number;
  /** How long a shared-cache (Redis) answer is served before the database is asked again: the bound when generation bumps are lost. */
  sharedCacheMaxAgeMs: number;
  /** Quay's DATABASE_SECRET_KEY: decrypts robot and app-token secrets; null disables those logins. */
  databaseSecretKey: string | null;
  /** Edge: the origin's public URL, where clients upload blob bytes (absolute upload `Location`). */
  originUrl: string | null;
  /** Quay's FEATURE_QUOTA_MANAGEMENT and DEFAULT_SYSTEM_REJECT_QUOTA_BYTES. */
  quota: { enabled: boolean; systemRejectBytes: number };
  /** The strangler front (docs/strangler.md); off while `legacyUrl` is null. */
  front: FrontSettings;
  /** One JSON line per request on stdout (quiet by default). */
  logRequests: boolean;
  /** Quay's pull_repo audit entries (written in batches). */
  auditPulls: boolean;
  /** Bearer token GET /metrics requires; when null only loopback callers are answered. */
  metricsToken: string | null;
  /** Proxies (IPs, CIDRs) whose CF-Connecting-IP / X-Forwarded-For are believed on Node; none by default. */
  trustedProxies: readonly string[];
  /** Quay's FEATURE_PROXY_CACHE: organizations may act as pull-through caches of an upstream registry. */
  proxyCache: boolean;
  /** Quay's FEATURE_GARBAGE_COLLECTION: the GC and purge jobs run. */
  garbageCollection: boolean;
  /** Quay's FEATURE_AUTO_PRUNE: auto-prune policies (REST API and worker). */
  autoPrune: boolean;
  /** Quay's DEFAULT_NAMESPACE_AUTOPRUNE_POLICY: applied to every enabled namespace daily; null for none. */
  defaultNamespaceAutoPrunePolicy: AutoPrunePolicyConfig | null;
  /** Quay's FEATURE_REPO_MIRROR: repositories kept in sync with another registry (REST API and sync job). */
  repoMirror: boolean;
  /**
   * What robots created or regenerated get: Quay's encrypted 64-character token (`quay`), or
   * Pier's `pier_rbt_` token stored as SHA-256 in schema `pier` (`prefixed`; Quay cannot read it).
   */
  robotTokens: "quay" | "prefixed";
}

export type ConfigSource = Readonly<Record<string, string | undefined>>;

export class ConfigError extends Error {
  override name = "ConfigError";
}

export function readBoolean(source: ConfigSource, name: string, fallback: boolean): boolean {
  const value = source[name]?.trim().toLowerCase();
  if (value === undefined || value === "") return fallback;
  if (["1", "true", "yes", "on"].includes(value)) return true;
  if (["0", "false", "no", "off"].includes(value)) return false;
  throw new ConfigError(`${name} must be true or false, got "${source[name]}"`);
}

export function readInteger(source: ConfigSource, name: string, fallback: number, min = 0): number {
  const value = source[name]?.trim();
  if (value === undefined || value === "") return fallback;
  if (!/^\d+$/.test(value) || Number(value) < min) throw new ConfigError(`${name} must be an integer ≥ ${min}, got "${value}"`);
  return Number(value);
}

export function readString(source: ConfigSource, name: string): string | null {
  const value = source[name]?.trim();
  return value ? value : null;
}

/** One of `choices` (case-insensitive); the first when unset. */
export function readChoice<T extends string>(source: ConfigSource, name: string, choices: readonly [T, ...T[]]): T {
  const value = readString(source, name)?.toLowerCase();
  if (value === undefined) return choices[0];
  const choice = choices.find((c) => c === value);
  if (choice === undefined) throw new ConfigError(`${name} must be one of ${choices.join(", ")}, got "${source[name]}"`);
  return choice;
}

/** A comma-separated list; empty entries dropped. */
export function readList(source: ConfigSource, name: string): string[] {
  return (readString(source, name) ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

/** A comma-separated list of IPs and CIDRs, each checked. */
export function readCidrList(source: ConfigSource, name: string): string[] {
  const list = readList(source, name);
  const bad = list.find((text) => parseCidr(text) === null);
  if (bad !== undefined) throw new ConfigError(`${name} must list IP addresses or CIDRs, got "${bad}"`);
  return list;
}

export function requireString(source: ConfigSource, name: string): string {
  const value = readString(source, name);
  if (value === null) throw new ConfigError(`${name} is required`);
  return value;
}

/** PIER_DEFAULT_NAMESPACE_AUTOPRUNE_POLICY: Quay's policy JSON (`{"method", "value", "tag_pattern"?, "tag_pattern_matches"?}`). */
function readAutoPrunePolicy(source: ConfigSource, name: string): AutoPrunePolicyConfig | null {
  const text = readString(source, name);
  if (text === null) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ConfigError(`${name} must be a JSON object, got "${text}"`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new ConfigError(`${name} must be a JSON object, got "${text}"`);
  try {
    assertValidPolicy(raw as Record<string, unknown>);
  } catch (error) {
    if (error instanceof InvalidAutoPrunePolicy) throw new ConfigError(`${name}: ${error.message}`);
    throw error;
  }
  return policyConfigOf(raw as Record<string, unknown>);
}

export function loadRegistryConfig(source: ConfigSource): RegistryConfig {
  const scheme = readString(source, "PIER_URL_SCHEME");
  if (scheme !== null && scheme !== "http" && scheme !== "https")
    throw new ConfigError(`PIER_URL_SCHEME must be http or https, got "${scheme}"`);
  const storage = loadStorageTopology(source);
  return {
    serverHostname: readString(source, "PIER_SERVER_HOSTNAME"),
    urlScheme: scheme,
    anonymousAccess: readBoolean(source, "PIER_ANONYMOUS_ACCESS", true),
    libraryNamespace: readString(source, "PIER_LIBRARY_NAMESPACE") ?? "library",
    superUsers: readList(source, "PIER_SUPER_USERS"),
    ssrfAllowedHosts: readList(source, "PIER_SSRF_ALLOWED_HOSTS"),
    defaultTagExpirationSeconds: readInteger(source, "PIER_DEFAULT_TAG_EXPIRATION_S", 1_209_600),
    redirectExpirySeconds: readInteger(source, "PIER_REDIRECT_EXPIRY_S", 600, 1),
    storageLocation: storage.locations[0]!,
    storage,
    publicCatalog: readBoolean(source, "PIER_PUBLIC_CATALOG", false),
    isolateCacheMs: readInteger(source, "PIER_ISOLATE_CACHE_MS", 5_000),
    sharedCacheMaxAgeMs: readInteger(source, "PIER_SHARED_CACHE_MAX_AGE_MS", 30_000, 1),
    databaseSecretKey: readString(source, "PIER_DATABASE_SECRET_KEY"),
    originUrl: readString(source, "PIER_ORIGIN_URL")?.replace(/\/+$/, "") ?? null,
    front: loadFrontSettings(source),
    quota: {
      enabled: readBoolean(source, "PIER_QUOTA_MANAGEMENT", false),
      systemRejectBytes: readInteger(source, "PIER_DEFAULT_SYSTEM_REJECT_QUOTA_BYTES", 0),
    },
    logRequests: readBoolean(source, "PIER_LOG_REQUESTS", false),
    auditPulls: readBoolean(source, "PIER_AUDIT_PULLS", true),
    metricsToken: readString(source, "PIER_METRICS_TOKEN"),
    trustedProxies: readCidrList(source, "PIER_TRUSTED_PROXIES"),
    proxyCache: readBoolean(source, "PIER_PROXY_CACHE", false),
    garbageCollection: readBoolean(source, "PIER_GARBAGE_COLLECTION", true),
    autoPrune: readBoolean(source, "PIER_AUTO_PRUNE", false),
    defaultNamespaceAutoPrunePolicy: readAutoPrunePolicy(source, "PIER_DEFAULT_NAMESPACE_AUTOPRUNE_POLICY"),
    repoMirror: readBoolean(source, "PIER_REPO_MIRROR", false),
    robotTokens: readChoice(source, "PIER_ROBOT_TOKENS", ["quay", "prefixed"] as const),
  };
}

/**
 * Bounds on dependency calls: a frozen or partitioned dependency makes a request fail
 * with 503 after these, instead of hanging.
 */
export interface DependencyTimeouts {
  /** One SQL statement (server-side statement_timeout; the client gives up shortly after). */
  sqlMs: number;
  /** Waiting for a pooled connection, including opening a new one. */
  sqlPoolWaitMs: number;
  /** One cache (Redis) command. */
  cacheMs: number;
  /** Blob storage: until the response starts, and between two chunks of a streamed body. */
  storageMs: number;
  /** An upstream registry: until its response starts. */
  upstreamMs: number;
}

export const DEFAULT_TIMEOUTS: DependencyTimeouts = {
  sqlMs: 5_000,
  sqlPoolWaitMs: 5_000,
  cacheMs: 500,
  storageMs: 10_000,
  upstreamMs: 10_000,
};

export function loadDependencyTimeouts(source: ConfigSource): DependencyTimeouts {
  return {
    sqlMs: readInteger(source, "PIER_SQL_TIMEOUT_MS", DEFAULT_TIMEOUTS.sqlMs, 1),
    sqlPoolWaitMs: readInteger(source, "PIER_SQL_POOL_WAIT_MS", DEFAULT_TIMEOUTS.sqlPoolWaitMs, 1),
    cacheMs: readInteger(source, "PIER_CACHE_TIMEOUT_MS", DEFAULT_TIMEOUTS.cacheMs, 1),
    storageMs: readInteger(source, "PIER_STORAGE_TIMEOUT_MS", DEFAULT_TIMEOUTS.storageMs, 1),
    upstreamMs: readInteger(source, "PIER_UPSTREAM_TIMEOUT_MS", DEFAULT_TIMEOUTS.upstreamMs, 1),
  };
}

/** S3-compatible storage settings (Quay's S3Storage / RadosGWStorage parameters). */
export interface S3Settings {
  endpoint: string;
  bucket: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Quay's storage_path: the key prefix inside the bucket. */
  storagePath?: string;
}

/** S3 settings when S3_ENDPOINT is set, else null (filesystem storage). */
export function loadS3Settings(source: ConfigSource): S3Settings | null {
  const endpoint = readString(source, "S3_ENDPOINT");
  if (endpoint === null) return null;
  return {
    endpoint,
    bucket: requireString(source, "S3_BUCKET"),
    region: readString(source, "S3_REGION") ?? "us-east-1",
    accessKeyId: requireString(source, "S3_ACCESS_KEY_ID"),
    secretAccessKey: requireString(source, "S3_SECRET_ACCESS_KEY"),
    storagePath: readString(source, "S3_STORAGE_PATH") ?? undefined,
  };
}

/** Akamai in front of S3 (Quay's AkamaiS3Storage): set when PIER_AKAMAI_DOMAIN is. */
export interface AkamaiSettings {
  domain: string;
  /** Quay's akamai_shared_secret (hex). */
  sharedSecretHex: string;
  /** Client networks that get plain S3 URLs (Quay's same-network bypass). */
  bypassCidrs: string[];
  /** Quay's CDN_SPECIFIC_NAMESPACES: always through the CDN. */
  cdnSpecificNamespaces: string[];
}

export function loadAkamaiSettings(source: ConfigSource): AkamaiSettings | null {
  const domain = readString(source, "PIER_AKAMAI_DOMAIN");
  if (domain === null) return null;
  return {
    domain,
    sharedSecretHex: requireString(source, "PIER_AKAMAI_SHARED_SECRET"),
    bypassCidrs: readList(source, "PIER_AKAMAI_BYPASS_CIDRS"),
    cdnSpecificNamespaces: readList(source, "PIER_CDN_SPECIFIC_NAMESPACES"),
  };
}

/** HTTPS on the Node runtimes: set when PIER_TLS_CERT_FILE is (paths; the runtime reads the files). */
export interface TlsSettings {
  certFile: string;
  keyFile: string;
  /** The oldest protocol a client may negotiate. */
  minVersion: "TLSv1.2" | "TLSv1.3";
  /** Mutual TLS: clients (the edge) must present a certificate signed by this CA bundle; null: no client certificate asked for. */
  clientCaFile: string | null;
  /** OpenSSL's key-exchange group list (e.g. "X25519:P-256"); null: Node's default ("auto"). */
  ecdhCurve: string | null;
}

export function loadTlsSettings(source: ConfigSource): TlsSettings | null {
  const certFile = readString(source, "PIER_TLS_CERT_FILE");
  const keyFile = readString(source, "PIER_TLS_KEY_FILE");
  const clientCaFile = readString(source, "PIER_TLS_CLIENT_CA_FILE");
  if (certFile === null && keyFile === null) {
    if (clientCaFile !== null) throw new ConfigError("PIER_TLS_CLIENT_CA_FILE needs PIER_TLS_CERT_FILE and PIER_TLS_KEY_FILE");
    return null;
  }
  if (certFile === null || keyFile === null) throw new ConfigError("PIER_TLS_CERT_FILE and PIER_TLS_KEY_FILE must be set together");
  const version = readString(source, "PIER_TLS_MIN_VERSION") ?? "1.2";
  if (version !== "1.2" && version !== "1.3") throw new ConfigError(`PIER_TLS_MIN_VERSION must be 1.2 or 1.3, got "${version}"`);
  return {
    certFile,
    keyFile,
    minVersion: version === "1.3" ? "TLSv1.3" : "TLSv1.2",
    clientCaFile,
    ecdhCurve: readString(source, "PIER_TLS_ECDH_CURVES"),
  };
}

export interface FrontSettings {
  /** The legacy Quay's base URL (PIER_LEGACY_URL): requests the rules do not give Pier go there. */
  legacyUrl: string | null;
  /** Rules in force until an operator stores others (PIER_FRONT_RULES); everything to legacy by default. */
  seed: FrontRules;
  /** How long a process keeps its copy of the stored rules: the bound on a change reaching everyone. */
  refreshMs: number;
  /** How long legacy may take to start answering before the client gets a 503. */
  timeoutMs: number;
  /** With the front on: how long Pier serves a tag, repository or permission answer without asking the database. */
  mutableTtlMs: number;
}

function loadFrontSettings(source: ConfigSource): FrontSettings {
  const seedText = readString(source, "PIER_FRONT_RULES");
  let seed = ALL_TO_LEGACY;
  if (seedText !== null) {
    try {
      seed = parseFrontRules(JSON.parse(seedText));
    } catch (error) {
      throw new ConfigError(`PIER_FRONT_RULES: ${error instanceof SyntaxError ? "not JSON" : (error as Error).message}`);
    }
  }
  const legacyUrl = readString(source, "PIER_LEGACY_URL")?.replace(/\/+$/, "") ?? null;
  if (legacyUrl !== null && !/^https?:\/\/[^/]+$/.test(legacyUrl)) {
    throw new ConfigError(`PIER_LEGACY_URL must be an http(s) URL with no path, got "${legacyUrl}"`);
  }
  return {
    legacyUrl,
    seed,
    refreshMs: readInteger(source, "PIER_FRONT_REFRESH_MS", 2_000),
    timeoutMs: readInteger(source, "PIER_FRONT_TIMEOUT_MS", 10_000, 1),
    mutableTtlMs: readInteger(source, "PIER_FRONT_MUTABLE_TTL_MS", 5_000, 1),
  };
}
