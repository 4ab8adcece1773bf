/**
 * The origin's adapters from its environment — PostgreSQL (DATABASE_URL), Redis
 * (REDIS_URL), S3 (S3_*) or a filesystem (PIER_STORAGE_DIR) — shared by the origin
 * service and `npm run job`, so both read the same settings the same way.
 */
import { fsBlobStore } from "../src/adapters/blob/fs.js";
import { redisCache } from "../src/adapters/cache/redis.js";
import { nodeHashing, nodeStreamHashing } from "../src/adapters/hashing/node.js";
import { nodePostgresSql } from "../src/adapters/sql/node-postgres.js";
import { guardedUpstream } from "../src/adapters/upstream/guarded-fetch.js";
import { resolveAll } from "../src/adapters/upstream/node-resolver.js";
import { serviceKeys } from "../src/core/auth/service-keys.js";
import {
  loadDependencyTimeouts,
  loadRegistryConfig,
  readString,
  requireString,
  type ConfigSource,
} from "../src/core/config.js";
import { systemClock } from "../src/core/ports/clock.js";
import type { Registry } from "../src/core/registry.js";
import { prefixedCache } from "../src/core/prefixed-cache.js";
import { ensureStorageLocations } from "../src/core/storage-locations.js";
import { migrate } from "../src/db/migrate.js";
import { openStorage } from "./storage-locations.js";

export interface OriginRegistry {
  /** Without a signing key: the origin registers its instance key itself. */
  registry: Registry;
  /** Closes the database pool and the cache connection. */
  close(): Promise<void>;
}

/** Connects the origin's adapters; migrates first when `migrateFirst`. */
export async function openOriginRegistry(env: ConfigSource, options: { migrateFirst: boolean }): Promise<OriginRegistry> {
  const config = loadRegistryConfig(env);
  // Every setting is checked before the database is touched.
  const storage = openStorage(env, config, systemClock, (root) => fsBlobStore({ root }));
  const timeouts = loadDependencyTimeouts(env);
  const databaseUrl = requireString(env, "DATABASE_URL");
  if (options.migrateFirst) {
    // Unbounded: a migration waits for another process's and may build indexes on big tables.
    const migrator = nodePostgresSql(databaseUrl, { max: 1, timeouts: null });
    await migrate(migrator).finally(() => migrator.close());
  }
  const sql = nodePostgresSql(databaseUrl, { timeouts });
  await ensureStorageLocations(sql, config);
  const cache = prefixedCache(
    redisCache({ url: readString(env, "REDIS_URL") ?? "redis://127.0.0.1:6379", commandTimeoutMs: timeouts.cacheMs }),
    readString(env, "PIER_REDIS_PREFIX") ?? "",
  );
  const registry: Registry = {
    config,
    sql,
    cache,
    ...storage,
    clock: systemClock,
    keys: serviceKeys({ sql, clock: systemClock }),
    signingKey: null,
    upstream: guardedUpstream({ policy: { allowedHosts: config.ssrfAllowedHosts }, timeoutMs: timeouts.upstreamMs, resolve: resolveAll }),
    hashing: nodeHashing,
    streamHashing: nodeStreamHashing,
  };
  return { registry, close: () => Promise.all([sql.close(), cache.close()]).then(() => {}) };
}
