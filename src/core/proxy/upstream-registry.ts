/**
 * A cache organization's upstream, as Quay reads `proxycacheconfig.upstream_registry`
 * (data/model/proxy_cache.py): `host[:port]`, optionally followed by `/namespace…`.
 * The host `docker.io` is served by `registry-1.docker.io`; no `library/` is inserted.
 */
import { assertUpstreamUrl, UpstreamBlockedError, type UpstreamPolicy } from "../upstream-guard.js";

export interface UpstreamRegistry {
  /** The configured value, as stored. */
  value: string;
  /** `host[:port]` as configured (`docker.io`, `ghcr.io`, `registry.local:5000`): what containerd's `ns` names. */
  host: string;
  /** Upstream namespace prefixed to every repository name, or null. */
  namespace: string | null;
  /** Where requests go: `https://<host>` (`http://` when insecure), docker.io rewritten. */
  baseUrl: string;
}

/** A configuration Quay would refuse, with Quay's message. */
export class UpstreamRegistryConfigError extends Error {
  override name = "UpstreamRegistryConfigError";
}

const HOST =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;
const NAMESPACE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const MAX_LENGTH = 2048;

/**
 * Parses and checks an `upstream_registry` value; the SSRF guard runs when `policy` is
 * given (configuration time). Throws UpstreamRegistryConfigError with Quay's texts.
 */
export function parseUpstreamRegistry(value: string, insecure: boolean, policy?: UpstreamPolicy): UpstreamRegistry {
  const trimmed = value.trim().replace(/\/+$/, "");
  if (trimmed === "") throw new UpstreamRegistryConfigError("External registry URL is required");
  if (trimmed.length > MAX_LENGTH) throw new UpstreamRegistryConfigError(`External registry URL is longer than ${MAX_LENGTH} characters`);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed)) {
    throw new UpstreamRegistryConfigError("External registry URL must be a host name without a scheme (set insecure for http)");
  }
  const slash = trimmed.indexOf("/");
  const host = (slash === -1 ? trimmed : trimmed.slice(0, slash)).toLowerCase();
  const namespace = slash === -1 ? null : trimmed.slice(slash + 1);
  if (!HOST.test(host)) throw new UpstreamRegistryConfigError("URL must include a hostname");
  if (namespace !== null && !NAMESPACE.test(namespace)) throw new UpstreamRegistryConfigError(`Invalid upstream namespace "${namespace}"`);
  const requestHost = host === "docker.io" ? "registry-1.docker.io" : host;
  const baseUrl = `${insecure ? "http" : "https"}://${requestHost}`;
  if (policy) {
    try {
      assertUpstreamUrl(new URL(baseUrl), policy);
    } catch (error) {
      if (error instanceof UpstreamBlockedError || error instanceof TypeError) {
        throw new UpstreamRegistryConfigError("The provided registry URL is not allowed");
      }
      throw error;
    }
  }
  return { value: trimmed, host, namespace, baseUrl };
}

/** The upstream repository a local repository of the cache organization stands for. */
export function upstreamRepository(registry: UpstreamRegistry, localRepository: string): string {
  return registry.namespace === null ? localRepository : `${registry.namespace}/${localRepository}`;
}
