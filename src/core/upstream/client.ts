/**
 * The registry client: what the proxy cache asks of an upstream registry, over the
 * SSRF-guarded Upstream port. Auth (auth.ts), the rate-limit budget (rate-budget.ts)
 * and failure mapping (failures.ts) live beside it; this file sends the requests.
 */
import type { Cache } from "../ports/cache.js";
import { systemStopwatch, type Clock, type Stopwatch } from "../ports/clock.js";
import type { Upstream } from "../ports/upstream.js";
import { parseDigest, isSupportedAlgorithm } from "../model/digest.js";
import { MediaType, isManifestMediaType } from "../model/media-types.js";
import { UpstreamAuth, credentialIdentity, schemeOf, type UpstreamScheme } from "./auth.js";
import { MAX_DOCUMENT_BYTES, readBounded } from "./bounded-read.js";
import { statusFailure, transportFailure } from "./failures.js";
import { parseRateLimitHeader, RateBudgets } from "./rate-budget.js";
import {
  UpstreamError,
  type RegistryClient,
  type RequestOptions,
  type UpstreamExchange,
  type UpstreamManifest,
  type UpstreamTarget,
} from "./types.js";

export interface RegistryClientDeps {
  upstream: Upstream;
  cache: Cache;
  clock: Clock;
  /** Times the exchanges reported to onExchange (default: performance.now()). */
  stopwatch?: Stopwatch;
  onExchange?: (event: UpstreamExchange) => void;
  /** Share of the rate limit kept for fills: revalidations stop at this many remaining (default 0.1, at least 1). */
  reserveRatio?: number;
}

/** Quay's manifest Accept list, in Quay's order. */
export const MANIFEST_ACCEPT = [
  MediaType.ociManifest,
  MediaType.ociIndex,
  MediaType.dockerManifestList,
  MediaType.dockerManifest,
  MediaType.dockerSchema1,
  MediaType.dockerSchema1Signed,
].join(", ");

const MAX_TAG_PAGES = 10_000;
const decoder = new TextDecoder();

interface Call {
  target: UpstreamTarget;
  operation: UpstreamExchange["operation"];
  method: "GET" | "HEAD";
  url: string;
  headers?: Record<string, string>;
  repository: string;
  /** What was asked for, for messages. */
  what: string;
  options: RequestOptions;
}

async function digestOf(bytes: Uint8Array, algorithm: "sha256" | "sha512"): Promise<string> {
  const hash = await crypto.subtle.digest(algorithm === "sha256" ? "SHA-256" : "SHA-512", bytes as BufferSource);
  return `${algorithm}:${Array.from(new Uint8Array(hash), (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

function mediaTypeOf(response: Response, bytes: Uint8Array | null): string {
  const header = (response.headers.get("content-type") ?? "").split(";")[0]!.trim();
  if (isManifestMediaType(header) || bytes === null) return header;
  try {
    const field = (JSON.parse(decoder.decode(bytes)) as { mediaType?: unknown }).mediaType;
    return typeof field === "string" ? field : header;
  } catch {
    return header;
  }
}

function manifestWhat(repository: string, reference: string): string {
  return `manifest ${repository}${reference.includes(":") ? "@" : ":"}${reference}`;
}

/** The `rel="next"` target of a Link header, or null. */
function nextLink(header: string | null): string | null {
  if (header === null) return null;
  for (const part of header.split(",")) {
    const match = /<([^>]*)>\s*;(.*)$/.exec(part.trim());
    if (match && /rel="?next"?/.test(match[2]!)) return match[1]!;
  }
  return null;
}

export function registryClient(deps: RegistryClientDeps): RegistryClient {
  const now = () => deps.clock.now();
  const stopwatch = deps.stopwatch ?? systemStopwatch;
  const budgets = new RateBudgets(deps.cache, now, deps.reserveRatio ?? 0.1);

  /** One request through the port, reported to onExchange; port failures become UpstreamErrors. */
  async function exchange(target: UpstreamTarget, operation: UpstreamExchange["operation"], request: Request, what: string) {
    const started = stopwatch.now();
    const report = (response: Response | null) => {
      const event: UpstreamExchange = {
        upstream: target.registry.host,
        operation,
        status: response?.status ?? "error",
        durationMs: stopwatch.now() - started,
      };
      const length = request.method === "HEAD" ? null : (response?.headers.get("content-length") ?? null);
      if (length !== null && /^\d+$/.test(length)) event.bytes = Number(length);
      const remaining = parseRateLimitHeader(response?.headers.get("ratelimit-remaining") ?? null);
      if (remaining !== null) event.rateLimitRemaining = remaining.count;
      deps.onExchange?.(event);
    };
    try {
      const response = await deps.upstream.fetch(request);
      report(response);
      return response;
    } catch (error) {
      report(null);
      throw transportFailure(error, target.registry.host, what);
    }
  }

  const auth = new UpstreamAuth(deps.cache, (target, operation, request) => exchange(target, operation, request, "authentication"), now);

  /** A 2xx response to `call`, after the budget check, auth, and one re-auth on a 401; else an UpstreamError. */
  async function send(call: Call): Promise<Response> {
    const { target, options } = call;
    const host = target.registry.host;
    const identity = await credentialIdentity(target.credentials);
    const previous = await budgets.read(host, identity);
    const refusal = budgets.refusal(previous, options.purpose ?? "fill");
    if (refusal)
      throw new UpstreamError("rate_limited", `${host}: ${refusal.reason}; ${call.what} not requested`, null, refusal.retryAfterSeconds);
    const scope = `repository:${call.repository}:pull`;
    let scheme: UpstreamScheme = await auth.scheme(target, options.signal);
    for (let attempt = 0; ; attempt++) {
      const authorization = await auth.authorization(target, scheme, identity, scope, { fresh: attempt > 0, signal: options.signal });
      const headers = new Headers(call.headers);
      if (authorization !== null) headers.set("authorization", authorization);
      const response = await exchange(
        target,
        call.operation,
        new Request(call.url, { method: call.method, headers, signal: options.signal }),
        call.what,
      );
      await budgets.record(host, identity, response, previous);
      if (response.ok) return response;
      await response.body?.cancel();
      if (response.status === 401 && attempt === 0) {
        if (scheme.scheme === "bearer") await auth.forget(target, identity, scope);
        const challenged = schemeOf(response);
        if (challenged !== null) {
          scheme = challenged;
          await auth.remember(target, challenged);
        }
        continue;
      }
      throw statusFailure(response, host, call.what, now());
    }
  }

  function url(target: UpstreamTarget, path: string): string {
    return `${target.registry.baseUrl}${path}`;
  }

  async function getManifest(
    target: UpstreamTarget,
    repository: string,
    reference: string,
    options: RequestOptions = {},
  ): Promise<UpstreamManifest> {
    const what = manifestWhat(repository, reference);
    const response = await send({
      target,
      operation: "manifest-get",
      method: "GET",
      url: url(target, `/v2/${repository}/manifests/${reference}`),
      headers: { accept: MANIFEST_ACCEPT },
      repository,
      what,
      options,
    });
    const bytes = await readBounded(response, MAX_DOCUMENT_BYTES, target.registry.host, what);
    const expected = parseDigest(reference);
    const algorithm = expected && isSupportedAlgorithm(expected.algorithm) ? expected.algorithm : "sha256";
    const digest = await digestOf(bytes, algorithm);
    if (expected && digest !== expected.text) {
      throw new UpstreamError(
        "error",
        `${target.registry.host} sent a manifest whose digest mismatches ${reference} (got ${digest})`,
        response.status,
      );
    }
    return { digest, mediaType: mediaTypeOf(response, bytes), bytes };
  }

  return {
    async ping(target) {
      const host = target.registry.host;
      const scheme = await auth.discover(target);
      // Without credentials nothing is verified (Quay's "Anonymous"): the upstream answered.
      if (!target.credentials) return "anonymous";
      if (scheme.scheme === "none") return "authenticated";
      const identity = await credentialIdentity(target.credentials);
      const authorization = await auth.authorization(target, scheme, identity, null, { fresh: true });
      const headers = new Headers(authorization === null ? {} : { authorization });
      const response = await exchange(target, "ping", new Request(url(target, "/v2/"), { headers }), "the registry API (/v2/)");
      await response.body?.cancel();
      await budgets.record(host, identity, response, null);
      if (response.ok) return "authenticated";
      throw statusFailure(response, host, "the registry API (/v2/)", now());
    },

    async headManifest(target, repository, reference, options = {}) {
      const response = await send({
        target,
        operation: "manifest-head",
        method: "HEAD",
        url: url(target, `/v2/${repository}/manifests/${reference}`),
        headers: { accept: MANIFEST_ACCEPT },
        repository,
        what: manifestWhat(repository, reference),
        options,
      });
      await response.body?.cancel();
      const digest = response.headers.get("docker-content-digest");
      const size = response.headers.get("content-length");
      const mediaType = mediaTypeOf(response, null);
      const expected = parseDigest(reference);
      if (
        digest === null ||
        size === null ||
        !/^\d+$/.test(size) ||
        !isManifestMediaType(mediaType) ||
        (expected && expected.text !== digest)
      ) {
        const manifest = await getManifest(target, repository, reference, options);
        return { digest: manifest.digest, mediaType: manifest.mediaType, size: manifest.bytes.byteLength };
      }
      return { digest, mediaType, size: Number(size) };
    },

    getManifest,

    async getBlob(target, repository, digest, options = {}) {
      const response = await send({
        target,
        operation: "blob",
        method: "GET",
        url: url(target, `/v2/${repository}/blobs/${digest}`),
        headers: { "accept-encoding": "identity" },
        repository,
        what: `blob ${repository}@${digest}`,
        options,
      });
      const length = response.headers.get("content-length");
      const body = response.body ?? new ReadableStream<Uint8Array>({ start: (c) => c.close() });
      return { body, size: length !== null && /^\d+$/.test(length) ? Number(length) : null };
    },

    async getReferrers(target, repository, digest, options = {}) {
      const what = `referrers of ${repository}@${digest}`;
      try {
        const response = await send({
          target,
          operation: "referrers",
          method: "GET",
          url: url(target, `/v2/${repository}/referrers/${digest}`),
          headers: { accept: MediaType.ociIndex },
          repository,
          what,
          options,
        });
        return await readBounded(response, MAX_DOCUMENT_BYTES, target.registry.host, what);
      } catch (error) {
        if (error instanceof UpstreamError && error.kind === "not_found") return null;
        throw error;
      }
    },

    async listTags(target, repository, options = {}) {
      const base = new URL(target.registry.baseUrl);
      const tags: string[] = [];
      let next: URL | null = new URL(`/v2/${repository}/tags/list?n=1000`, base);
      for (let page = 0; next !== null; page++) {
        const what = `tags of ${repository}`;
        if (page === MAX_TAG_PAGES)
          throw new UpstreamError("error", `${target.registry.host} paginated ${what} beyond ${MAX_TAG_PAGES} pages`);
        const response = await send({ target, operation: "tags", method: "GET", url: next.href, repository, what, options });
        const link = nextLink(response.headers.get("link"));
        const bytes = await readBounded(response, MAX_DOCUMENT_BYTES, target.registry.host, what);
        let body: { tags?: unknown };
        try {
          body = JSON.parse(decoder.decode(bytes)) as { tags?: unknown };
        } catch {
          throw new UpstreamError("error", `${target.registry.host} answered ${what} with something other than JSON`, response.status);
        }
        if (Array.isArray(body.tags)) tags.push(...body.tags.filter((t): t is string => typeof t === "string"));
        next = link === null ? null : new URL(link, next);
        // Credentials go only to the upstream itself.
        if (next !== null && next.origin !== base.origin) {
          throw new UpstreamError("error", `${target.registry.host} paginated ${what} to another host (${next.host})`);
        }
      }
      return tags;
    },

    async budget(target) {
      return budgets.read(target.registry.host, await credentialIdentity(target.credentials));
    },
  };
}
