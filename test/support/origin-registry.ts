/**
 * The origin runtime's adapters for Node tests: a fresh migrated PostgreSQL database,
 * Redis, the verifying S3 server in a temp directory, Node hashing and a registered
 * signing key — plus a helper that mints tokens with given grants.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startS3Server } from "../../scripts/gateways/s3.js";
import { s3BlobStore } from "../../src/adapters/blob/s3.js";
import { redisCache } from "../../src/adapters/cache/redis.js";
import { nodeHashing } from "../../src/adapters/hashing/node.js";
import { nodePostgresSql } from "../../src/adapters/sql/node-postgres.js";
import { guardedUpstream } from "../../src/adapters/upstream/guarded-fetch.js";
import type { Action } from "../../src/core/auth/access.js";
import { issueRegistryToken } from "../../src/core/auth/registry-tokens.js";
import { createInstanceKey, serviceKeys } from "../../src/core/auth/service-keys.js";
import { loadRegistryConfig, type S3Settings } from "../../src/core/config.js";
import { systemClock, type Clock } from "../../src/core/ports/clock.js";
import type { Registry } from "../../src/core/registry.js";
import { ensureStorageLocation } from "../../src/core/storage-locations.js";
import { migrate } from "../../src/db/migrate.js";
import { createTestDatabase, REDIS_URL } from "./services.js";

export const TEST_HOST = "registry.test";

export interface OriginFixture {
  registry: Registry;
  s3: S3Settings;
  /** A bearer token for `subject` with these grants (`ns/repo` → actions). */
  token(subject: string, grants: Record<string, Action[]>): Promise<string>;
  close(): Promise<void>;
}

export async function startOriginRegistry(label: string, clock: Clock = systemClock): Promise<OriginFixture> {
  const database = await createTestDatabase(label);
  const sql = nodePostgresSql(database.url);
  await migrate(sql);
  const config = loadRegistryConfig({ PIER_SERVER_HOSTNAME: TEST_HOST, PIER_URL_SCHEME: "https" });
  await ensureStorageLocation(sql, config.storageLocation);
  const root = await mkdtemp(join(tmpdir(), "pier-origin-s3-"));
  const credentials = { accessKeyId: "origin-test", secretAccessKey: crypto.randomUUID() };
  const server = await startS3Server({ root, bucket: "pier", region: "us-east-1", ...credentials });
  const s3: S3Settings = { endpoint: server.endpoint, bucket: "pier", region: "us-east-1", ...credentials };
  const blobs = s3BlobStore(s3);
  const cache = redisCache({ url: REDIS_URL });
  const key = await createInstanceKey(sql, clock, `https://${TEST_HOST}`);
  const registry: Registry = {
    config,
    sql,
    cache,
    blobs,
    signer: blobs,
    clock,
    keys: serviceKeys({ sql, clock }),
    signingKey: key.signing,
    upstream: guardedUpstream({ policy: { allowedHosts: [] } }),
    hashing: nodeHashing,
  };
  return {
    registry,
    s3,
    token: (subject, grants) =>
      issueRegistryToken(key.signing, clock, {
        audience: TEST_HOST,
        subject,
        access: Object.entries(grants).map(([name, actions]) => ({ type: "repository", name, actions })),
        context: {},
      }),
    async close() {
      await Promise.all([sql.close(), cache.close(), server.close()]);
      await database.drop();
      await rm(root, { recursive: true, force: true });
    },
  };
}
