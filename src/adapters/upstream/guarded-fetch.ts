/**
 * The Upstream port over `fetch`, behind the SSRF guard: every URL, and every
 * redirect hop (followed here, never by fetch itself), is checked before it is
 * requested. Where the runtime can resolve names (Node), the resolved addresses are
 * checked too; on Workers the platform's fetch cannot reach private networks.
 */
import { assertResolvedAddresses, assertUpstreamUrl, UpstreamBlockedError, type UpstreamPolicy } from "../../core/upstream-guard.js";
import { DEFAULT_TIMEOUTS } from "../../core/config.js";
import { DependencyUnavailableError } from "../../core/errors/dependency-unavailable.js";
import type { Upstream } from "../../core/ports/upstream.js";

export interface GuardedFetchOptions {
  policy: UpstreamPolicy;
  /** Addresses a hostname resolves to (Node: dns.lookup); absent where the runtime cannot resolve. */
  resolve?: (hostname: string) => Promise<string[]>;
  maxRedirects?: number;
  fetch?: typeof fetch;
  /** How long an upstream may take to start its response (per hop); the body's own pace is the caller's. */
  timeoutMs?: number;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export function guardedUpstream(options: GuardedFetchOptions): Upstream {
  const doFetch = options.fetch ?? fetch;
  const maxRedirects = options.maxRedirects ?? 5;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUTS.upstreamMs;

  async function check(url: URL): Promise<void> {
    assertUpstreamUrl(url, options.policy);
    if (options.resolve) assertResolvedAddresses(url.hostname, await options.resolve(url.hostname.replace(/^\[|\]$/g, "")), options.policy);
  }

  /** One hop, its response start bounded; a timeout or a network failure means "upstream unavailable". */
  async function fetchHop(request: Request): Promise<Response> {
    const aborter = new AbortController();
    const timer = setTimeout(
      () => aborter.abort(new DependencyUnavailableError("upstream", `no response within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const abort = () => aborter.abort(request.signal.reason);
    request.signal.addEventListener("abort", abort);
    try {
      return await doFetch(request, { redirect: "manual", signal: aborter.signal });
    } catch (error) {
      if (request.signal.aborted) throw error;
      if (aborter.signal.aborted) throw aborter.signal.reason;
      throw new DependencyUnavailableError("upstream", `${new URL(request.url).host}: ${(error as Error).message}`, { cause: error });
    } finally {
      clearTimeout(timer);
      request.signal.removeEventListener("abort", abort);
    }
  }

  return {
    async fetch(request) {
      let current = request;
      for (let hop = 0; ; hop++) {
        await check(new URL(current.url));
        const response = await fetchHop(current);
        const location = response.headers.get("location");
        if (!REDIRECTS.has(response.status) || location === null) return response;
        if (hop === maxRedirects) throw new UpstreamBlockedError(`more than ${maxRedirects} redirects`);
        await response.body?.cancel();
        const next = new URL(location, current.url);
        // A redirect to another host must not carry the upstream credentials along.
        const headers = new Headers(current.headers);
        if (next.host !== new URL(current.url).host) headers.delete("authorization");
        const method =
          response.status === 303 || (response.status !== 307 && response.status !== 308 && current.method === "POST")
            ? "GET"
            : current.method;
        current = new Request(next, { method, headers, signal: current.signal });
      }
    },
  };
}
