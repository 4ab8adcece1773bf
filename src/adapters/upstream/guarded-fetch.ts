/**
 * The Upstream port over `fetch`, behind the SSRF guard: every URL, and every
 * redirect hop (followed here, never by fetch itself), is checked before it is
 * requested. Where the runtime can resolve names (Node), the resolved addresses are
 * checked too; on Workers the platform's fetch cannot reach private networks.
 */
import { assertResolvedAddresses, assertUpstreamUrl, UpstreamBlockedError, type UpstreamPolicy } from "../../core/upstream-guard.js";
import type { Upstream } from "../../core/ports/upstream.js";

export interface GuardedFetchOptions {
  policy: UpstreamPolicy;
  /** Addresses a hostname resolves to (Node: dns.lookup); absent where the runtime cannot resolve. */
  resolve?: (hostname: string) => Promise<string[]>;
  maxRedirects?: number;
  fetch?: typeof fetch;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export function guardedUpstream(options: GuardedFetchOptions): Upstream {
  const doFetch = options.fetch ?? fetch;
  const maxRedirects = options.maxRedirects ?? 5;

  async function check(url: URL): Promise<void> {
    assertUpstreamUrl(url, options.policy);
    if (options.resolve) assertResolvedAddresses(url.hostname, await options.resolve(url.hostname.replace(/^\[|\]$/g, "")), options.policy);
  }

  return {
    async fetch(request) {
      let current = request;
      for (let hop = 0; ; hop++) {
        await check(new URL(current.url));
        const response = await doFetch(current, { redirect: "manual" });
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
