/**
 * The pull source a registry serves from: the local one, wrapped by the proxy cache when
 * PIER_PROXY_CACHE is on. Runtimes that receive bytes (Node) fill from upstreams
 * themselves; the edge, without streamed hashing, hands fills to the origin.
 */
import type { FieldEncrypter } from "../auth/field-encryption.js";
import type { Registry } from "../registry.js";
import type { PullDeps } from "../resources/deps.js";
import { localSource, type PullSource } from "../resources/source.js";
import type { RegistryClient } from "../upstream/types.js";
import { proxiedSource, type ProxyOutcome } from "./source.js";

export interface PullSourceOptions {
  client: RegistryClient;
  fields: FieldEncrypter | null;
  onOutcome?: (upstream: string, outcome: ProxyOutcome) => void;
}

export function composePullSource(registry: Registry, pull: PullDeps, options: PullSourceOptions): PullSource {
  const local = localSource(pull);
  if (!registry.config.proxyCache) return local;
  const { blobs, cache, hashing, clock, sql } = registry;
  return proxiedSource(local, {
    pull,
    sql,
    shared: cache,
    client: options.client,
    fields: options.fields,
    quota: registry.config.quota,
    blobFill: hashing === null ? null : { blobs, cache, hashing, clock, sql, location: registry.config.storageLocation },
    onOutcome: options.onOutcome,
  });
}
