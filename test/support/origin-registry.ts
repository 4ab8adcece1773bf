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
import { createApp } from "../../src/http/app.js";
import { createNamespace, createRepository, unique } from "./quay-seed.js";
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

export interface RequestInitLike {
  body?: BodyInit | null;
  headers?: Record<string, string>;
  /** The bearer token; the scene's writer when omitted, none when null. */
  token?: string | null;
}

/** An origin app with one private repository `<namespace>/app` and a token that may push to it. */
export interface PushScene {
  origin: OriginFixture;
  app: ReturnType<typeof createApp>;
  namespace: string;
  repo: string;
  repoId: number;
  writer: string;
  /** A request to the app (path or absolute URL), streaming bodies allowed. */
  call(method: string, path: string, init?: RequestInitLike): Promise<Response>;
}

export async function startPushScene(label: string, clock: Clock = systemClock): Promise<PushScene> {
  const origin = await startOriginRegistry(label, clock);
  const app = createApp(origin.registry);
  const namespace = unique(label);
  const namespaceId = await createNamespace(origin.registry, namespace, { organization: true });
  const repoId = await createRepository(origin.registry, namespaceId, "app", { visibility: "private" });
  const repo = `${namespace}/app`;
  const writer = await origin.token("writer", { [repo]: ["pull", "push"] });
  async function call(method: string, path: string, init: RequestInitLike = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    const token = init.token === undefined ? writer : init.token;
    if (token) headers.set("authorization", `Bearer ${token}`);
    const url = path.startsWith("http") ? path : `https://${TEST_HOST}${path}`;
    const streaming = init.body instanceof ReadableStream ? { duplex: "half" } : {};
    return app.request(url, { method, body: init.body ?? null, headers, ...streaming } as RequestInit);
  }
  return { origin, app, namespace, repo, repoId, writer, call };
}
