/**
 * The origin service: the same app on Node for what the edge cannot do (pushes,
 * long streams, token issuing), against PostgreSQL, Redis and S3 or a filesystem.
 */
import { fsBlobStore } from "../src/adapters/blob/fs.js";
import { nodeHashing } from "../src/adapters/hashing/node.js";
import { guardedUpstream } from "../src/adapters/upstream/guarded-fetch.js";
import { resolveAll } from "../src/adapters/upstream/node-resolver.js";
import { redisCache } from "../src/adapters/cache/redis.js";
import { nodePostgresSql } from "../src/adapters/sql/node-postgres.js";
import { serviceKeys } from "../src/core/auth/service-keys.js";
import { loadDependencyTimeouts, loadRegistryConfig, loadS3Settings, readInteger, readString, requireString } from "../src/core/config.js";
import type { BlobStore } from "../src/core/ports/blob-store.js";
import { systemClock } from "../src/core/ports/clock.js";
import type { RedirectSigner } from "../src/core/ports/redirect-signer.js";
import { ensureStorageLocation } from "../src/core/storage-locations.js";
import { migrate } from "../src/db/migrate.js";
import { startInstanceKey } from "../src/runtime/instance-key.js";
import { serveNodeRegistry } from "../src/runtime/node-registry.js";
import { loadServerLimits } from "../src/runtime/node-server.js";
import { s3Storage } from "./s3-storage.js";

const env = process.env;
const config = loadRegistryConfig(env);
const timeouts = loadDependencyTimeouts(env);
const databaseUrl = requireString(env, "DATABASE_URL");
if (env.PIER_MIGRATE_ON_START !== "false") {
  // Unbounded: a migration waits for another process's and may build indexes on big tables.
  const migrator = nodePostgresSql(databaseUrl, { max: 1, timeouts: null });
  await migrate(migrator).finally(() => migrator.close());
}
const sql = nodePostgresSql(databaseUrl, { timeouts });
await ensureStorageLocation(sql, config.storageLocation);

function storage(): { blobs: BlobStore; signer: RedirectSigner | null } {
  const s3 = loadS3Settings(env);
  if (s3 === null) return { blobs: fsBlobStore({ root: readString(env, "PIER_STORAGE_DIR") ?? "data/storage" }), signer: null };
  return s3Storage(env, s3, systemClock);
}

const cache = redisCache({ url: readString(env, "REDIS_URL") ?? "redis://127.0.0.1:6379", commandTimeoutMs: timeouts.cacheMs });
const hostname = readString(env, "PIER_HOST") ?? "0.0.0.0";
const port = readInteger(env, "PORT", 8080);
const keyName = `${config.urlScheme ?? "http"}://${config.serverHostname ?? `${hostname}:${port}`}`;
const instanceKey = await startInstanceKey(sql, systemClock, {
  name: keyName,
  // Set it to keep one key across restarts; without it each start registers a new one.
  keyFile: readString(env, "PIER_INSTANCE_KEY_FILE"),
  onRefreshError: (error) => console.error("instance key refresh failed:", error),
});
const { port: listening } = await serveNodeRegistry(
  {
    config,
    sql,
    cache,
    ...storage(),
    clock: systemClock,
    keys: serviceKeys({ sql, clock: systemClock }),
    signingKey: instanceKey.signing,
    upstream: guardedUpstream({ policy: { allowedHosts: config.ssrfAllowedHosts }, timeoutMs: timeouts.upstreamMs, resolve: resolveAll }),
    hashing: nodeHashing,
  },
  {
    runtime: "origin",
    hostname,
    port,
    limits: loadServerLimits(env),
    async release() {
      instanceKey.stop();
      await Promise.all([sql.close(), cache.close()]);
    },
  },
);
console.log(`Pier origin listening on port ${listening}`);
