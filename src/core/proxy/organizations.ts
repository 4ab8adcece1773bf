/**
 * Cache organizations as the pull path sees them: the proxycacheconfig row of a
 * namespace, through the read-through cache (the configuration API bumps it), with its
 * credentials decrypted only when an upstream request is about to use them.
 */
import type { FieldEncrypter } from "../auth/field-encryption.js";
import type { PullDeps } from "../resources/deps.js";
import { PullCache } from "../resources/pull-cache.js";
import type { UpstreamTarget } from "../upstream/types.js";
import { findProxyCacheConfig } from "../../db/queries/proxy-cache.js";
import { upstreamTargetOf } from "./config.js";

export interface CacheOrganization {
  organizationId: number;
  namespace: string;
  /** proxycacheconfig.expiration_s: how long a cached tag is served without asking the upstream; 0: forever. */
  expirationSeconds: number;
  target: UpstreamTarget;
}

/** The read-through cache's name for a namespace's proxy configuration (bumped when it changes). */
export function proxyConfigCacheName(namespace: string): string {
  return `proxycache:${namespace}`;
}

/** The namespace's cache configuration, or null when it is not a cache organization (or the feature is off). */
export async function cacheOrganization(
  deps: { pull: PullDeps; fields: FieldEncrypter | null },
  namespace: string,
): Promise<CacheOrganization | null> {
  if (!deps.pull.config.proxyCache) return null;
  const cacheName = proxyConfigCacheName(namespace);
  const row = await deps.pull.cache.read(cacheName, PullCache.key(cacheName, "config"), async () => {
    const found = await findProxyCacheConfig(deps.pull.sql, namespace);
    return { value: found, validUntil: null, negative: found === null };
  });
  if (row === null) return null;
  return {
    organizationId: row.organizationId,
    namespace,
    expirationSeconds: row.expirationSeconds,
    target: await upstreamTargetOf(row, deps.fields),
  };
}
