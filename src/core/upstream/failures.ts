/**
 * How upstream answers and transport failures become UpstreamErrors. Messages name the
 * upstream host and what was asked for; never credentials or tokens.
 */
import { DependencyUnavailableError } from "../errors/dependency-unavailable.js";
import { UpstreamBlockedError } from "../upstream-guard.js";
import { parseRetryAfter } from "./rate-budget.js";
import { UpstreamError } from "./types.js";

/** The error for a non-2xx answer to `what` (e.g. "manifest library/nginx:latest"). */
export function statusFailure(response: Response, host: string, what: string, now: number): UpstreamError {
  const status = response.status;
  if (status === 401 || status === 403) {
    return new UpstreamError("auth", `${host} refused the credentials for ${what} (HTTP ${status})`, status);
  }
  if (status === 404) return new UpstreamError("not_found", `${host} has no ${what}`, status);
  if (status === 429) {
    const retryAfter = parseRetryAfter(response.headers.get("retry-after"), now);
    return new UpstreamError("rate_limited", `${host} rate-limited the request for ${what}`, status, retryAfter);
  }
  return new UpstreamError("error", `${host} answered HTTP ${status} for ${what}`, status);
}

/** The error for a request the Upstream port could not complete; the caller's own abort passes through. */
export function transportFailure(error: unknown, host: string, what: string): unknown {
  if (error instanceof UpstreamError) return error;
  if (error instanceof UpstreamBlockedError) {
    return new UpstreamError("error", `the SSRF guard refused the request to ${host} for ${what}: ${error.message}`, null, null, {
      cause: error,
    });
  }
  if (error instanceof DependencyUnavailableError) {
    return new UpstreamError("unavailable", `${host} is unavailable for ${what}: ${error.message}`, null, null, { cause: error });
  }
  return error;
}
