/**
 * The embedded registry's adapters over its data directory — PGlite, blobs under
 * `<data>/storage` (or PIER_STORAGE_DIR: Quay's LocalStorage path), an in-memory cache —
 * shared by `npm start` and `npm run job`.
 */
import { join } from "node:path";
import { fsBlobStore } from "../src/adapters/blob/fs.js";
import { memoryCache } from "../src/adapters/cache/memory.js";
import { nodeHashing, nodeStreamHashing } from "../src/adapters/hashing/node.js";
import { guardedUpstream } from "../src/adapters/upstream/guarded-fetch.js";
import { resolveAll } from "../src/adapters/upstream/node-resolver.js";
import { serviceKeys } from "../src/core/auth/service-keys.js";
import { loadDependencyTimeouts, readString, type ConfigSource, type RegistryConfig } from "../src/core/config.js";
import type { SigningKey } from "../src/core/ports/keys.js";
import { systemClock } from "../src/core/ports/clock.js";
import type { Sql } from "../src/core/ports/sql.js";
import type { Registry } from "../src/core/registry.js";
import { openStorage } from "./storage-locations.js";

export function embeddedRegistry(
  env: ConfigSource,
  dataDir: string,
  config: RegistryConfig,
  sql: Sql,
  signingKey: SigningKey | null,
): Registry {
  return {
    config,
    sql,
    cache: memoryCache(),
    // Several locations only when PIER_STORAGE_LOCATIONS names them; else the data directory's.
    ...(readString(env, "PIER_STORAGE_LOCATIONS") === null
      ? { blobs: fsBlobStore({ root: readString(env, "PIER_STORAGE_DIR") ?? join(dataDir, "storage") }), signer: null }
      : openStorage(env, config, systemClock, (root) => fsBlobStore({ root }))),
    clock: systemClock,
    keys: serviceKeys({ sql, clock: systemClock }),
    signingKey,
    upstream: guardedUpstream({
      policy: { allowedHosts: config.ssrfAllowedHosts },
      resolve: resolveAll,
      timeoutMs: loadDependencyTimeouts(env).upstreamMs,
    }),
    hashing: nodeHashing,
    streamHashing: nodeStreamHashing,
  };
}
