/**
 * Upstream failures as the client sees them: an OCI error that names the upstream and
 * what went wrong (Quay answers 400 INVALID_REQUEST, or a 500 when a stale copy would
 * have done — docs/compatibility.md).
 */
import { RegistryError } from "../errors/registry-error.js";
import type { UpstreamError } from "../upstream/types.js";

/** The RegistryError for a failed fetch of something the cache cannot answer itself. */
export function upstreamFailure(error: UpstreamError, host: string, missing: "MANIFEST_UNKNOWN" | "BLOB_UNKNOWN"): RegistryError {
  const detail = { upstream: host, reason: error.message };
  switch (error.kind) {
    case "not_found":
      return new RegistryError(missing, `not found in upstream registry ${host}`, detail);
    case "auth":
      return new RegistryError("DENIED", `upstream registry ${host} refused the cache organization's credentials`, detail, 502);
    case "rate_limited": {
      const retry = Math.max(1, Math.ceil(error.retryAfterSeconds ?? 60));
      const limited = new RegistryError("TOOMANYREQUESTS", `upstream registry ${host} rate limit reached; retry after ${retry} s`, detail);
      limited.headers = { "Retry-After": String(retry) };
      return limited;
    }
    case "unavailable":
      return new RegistryError("UNAVAILABLE", `upstream registry ${host} is unavailable; try again later`, detail);
    case "error":
      return new RegistryError("UNAVAILABLE", `upstream registry ${host} failed the request`, { ...detail, status: error.status }, 502);
  }
}

/** Thrown where a runtime cannot fetch from upstreams itself (the edge): the origin answers the request instead. */
export class OriginHandoff extends Error {
  override name = "OriginHandoff";
  constructor() {
    super("this request needs the origin: the proxy cache fills there");
  }
}
