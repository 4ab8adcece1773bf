/**
 * The registry client's contract: what the proxy cache (and later mirroring) asks of
 * another registry. One implementation (client.ts) over the SSRF-guarded Upstream port.
 */
import type { UpstreamRegistry } from "../proxy/upstream-registry.js";

/** What one upstream request was, for metrics. */
export interface UpstreamExchange {
  /** The configured upstream host (`docker.io`, `registry.local:5000`). */
  upstream: string;
  operation: "ping" | "manifest-head" | "manifest-get" | "blob" | "referrers" | "tags" | "token";
  /** The HTTP status, or "error" when no response came. */
  status: number | "error";
  /** Until the response's headers. */
  durationMs: number;
  /** Content-Length of the response, when the upstream sent one (not for HEAD). */
  bytes?: number;
  /** The response's `ratelimit-remaining` count, when it sent one. */
  rateLimitRemaining?: number;
}

export interface UpstreamCredentials {
  username: string;
  password: string;
}

/** One upstream as a cache organization (or a mirror) reaches it. */
export interface UpstreamTarget {
  registry: UpstreamRegistry;
  /** Decrypted credentials, or null for anonymous access. */
  credentials: UpstreamCredentials | null;
}

export interface UpstreamManifestHead {
  digest: string;
  mediaType: string;
  size: number;
}

export interface UpstreamManifest {
  digest: string;
  mediaType: string;
  bytes: Uint8Array;
}

export interface UpstreamBlob {
  body: ReadableStream<Uint8Array>;
  /** Content-Length when the upstream sent one. */
  size: number | null;
}

/**
 * Why an upstream call failed: refused credentials (`auth`), no such manifest, blob or
 * repository (`not_found`), out of rate-limit budget (`rate_limited`, possibly without
 * asking), unreachable or timing out (`unavailable`), any other answer (`error`).
 */
export type UpstreamFailure = "auth" | "not_found" | "rate_limited" | "unavailable" | "error";

export class UpstreamError extends Error {
  override name = "UpstreamError";
  constructor(
    readonly kind: UpstreamFailure,
    message: string,
    /** The upstream's HTTP status, when it answered. */
    readonly status: number | null = null,
    /** From Retry-After or the budget, for `rate_limited`. */
    readonly retryAfterSeconds: number | null = null,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** What the client last learned of an upstream's rate limit for one credential. */
export interface RateBudget {
  /** `ratelimit-remaining` (Docker Hub: `N;w=21600`), null when the upstream sends none. */
  remaining: number | null;
  /** `ratelimit-limit`, null when absent. */
  limit: number | null;
  /** Until then (ms since epoch) no request is sent: after a 429's Retry-After. Null when not blocked. */
  blockedUntil: number | null;
}

export interface RequestOptions {
  /**
   * `revalidate`: the caller has something stale it can serve, so the client refuses
   * (rate_limited, without asking) when the budget is low. `fill`: nothing else can answer.
   */
  purpose?: "revalidate" | "fill";
  signal?: AbortSignal;
}

/**
 * `repository` is always the name at the upstream: callers apply upstreamRepository()
 * (the configured namespace) first. Tokens are requested with `repository:<repository>:pull`.
 */
export interface RegistryClient {
  /**
   * Asks GET /v2/ afresh (and re-learns the upstream's scheme). With credentials: "authenticated" once
   * the upstream accepted them (or needs none), else UpstreamError "auth". Without: "anonymous" whenever
   * the upstream answers (nothing to verify, Quay's "Anonymous"). Unreachable and other answers throw.
   */
  ping(target: UpstreamTarget): Promise<"authenticated" | "anonymous">;
  /** HEAD of a manifest (follows redirects); the digest from Docker-Content-Digest, or by GET when absent. */
  headManifest(target: UpstreamTarget, repository: string, reference: string, options?: RequestOptions): Promise<UpstreamManifestHead>;
  /** GET of a manifest with Quay's Accept list; the digest computed from the bytes and checked against a digest reference. */
  getManifest(target: UpstreamTarget, repository: string, reference: string, options?: RequestOptions): Promise<UpstreamManifest>;
  /** GET of a blob, streamed (redirects followed, `Accept-Encoding: identity`). */
  getBlob(target: UpstreamTarget, repository: string, digest: string, options?: RequestOptions): Promise<UpstreamBlob>;
  /** The upstream's referrers index for `digest`, or null when it has no referrers API. */
  getReferrers(target: UpstreamTarget, repository: string, digest: string, options?: RequestOptions): Promise<Uint8Array | null>;
  /** Every tag of the repository (paginated with `n`/`last` until done). */
  listTags(target: UpstreamTarget, repository: string, options?: RequestOptions): Promise<string[]>;
  /** The last-seen budget of the target's upstream and credential. */
  budget(target: UpstreamTarget): Promise<RateBudget | null>;
}
