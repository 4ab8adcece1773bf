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
import { nodeHashing, nodeStreamHashing } from "../../src/adapters/hashing/node.js";
import { nodePostgresSql } from "../../src/adapters/sql/node-postgres.js";
import { guardedUpstream } from "../../src/adapters/upstream/guarded-fetch.js";
import type { Action } from "../../src/core/auth/access.js";
import { issueRegistryToken } from "../../src/core/auth/registry-tokens.js";
import { createInstanceKey, serviceKeys } from "../../src/core/auth/service-keys.js";
import { DEFAULT_TIMEOUTS, loadRegistryConfig, type DependencyTimeouts, type S3Settings } from "../../src/core/config.js";
import { systemClock, type Clock } from "../../src/core/ports/clock.js";
import type { Registry } from "../../src/core/registry.js";
import type { Sql } from "../../src/core/ports/sql.js";
import { prefixedCache } from "../../src/core/prefixed-cache.js";
import { ensureStorageLocations } from "../../src/core/storage-locations.js";
import { migrate } from "../../src/db/migrate.js";
import { createApp } from "../../src/http/app.js";
import { startFaultProxy, type FaultProxy } from "./fault-proxy.js";
import { createNamespace, createRepository, unique } from "./quay-seed.js";
import { createTestDatabase, REDIS_URL } from "./services.js";

export const TEST_HOST = "registry.test";

export interface OriginFixture {
  registry: Registry;
  /** The test database without proxy or time limits, for seeding and checking rows during a fault. */
  direct: Sql;
  /** Its connection string, for commands run against it. */
  databaseUrl: string;
  /** The prefix of this fixture's Redis keys (PIER_REDIS_PREFIX): another instance of it must use the same. */
  cachePrefix: string;
  s3: S3Settings;
  /** With `locations`: each storage location's S3 settings (its own server and bucket), the writer's first. */
  locations: Map<string, S3Settings>;
  /** A bearer token for `subject` with these grants (`ns/repo` → actions). */
  token(subject: string, grants: Record<string, Action[]>): Promise<string>;
  /** With `faultProxies`: the proxies between the registry and PostgreSQL, Redis and S3. */
  faults: { database: FaultProxy; cache: FaultProxy; storage: FaultProxy } | null;
  close(): Promise<void>;
}

export interface OriginOptions {
  /** Reach PostgreSQL, Redis and S3 through fault proxies (test/support/fault-proxy.ts). */
  faultProxies?: boolean;
  timeouts?: Partial<DependencyTimeouts>;
  /** More settings, as environment variables (e.g. PIER_PROXY_CACHE, PIER_SSRF_ALLOWED_HOSTS). */
  env?: Record<string, string>;
  /**
   * Storage locations (geo-replication), each on its own S3 server, the first the writer's;
   * set as PIER_STORAGE_LOCATIONS (options.env may add PIER_STORAGE_PREFERENCE and the rest).
   */
  locations?: string[];
}

async function proxyFor(url: string): Promise<FaultProxy> {
  const { hostname, port } = new URL(url);
  return startFaultProxy({ host: hostname, port: Number(port) });
}

export async function startOriginRegistry(label: string, clock: Clock = systemClock, options: OriginOptions = {}): Promise<OriginFixture> {
  const timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  const database = await createTestDatabase(label);
  const root = await mkdtemp(join(tmpdir(), "pier-origin-s3-"));
  const credentials = { accessKeyId: "origin-test", secretAccessKey: crypto.randomUUID() };
  const server = await startS3Server({ root, bucket: "pier", region: "us-east-1", ...credentials });
  const s3: S3Settings = { endpoint: server.endpoint, bucket: "pier", region: "us-east-1", ...credentials };
  const faults = options.faultProxies
    ? { database: await proxyFor(database.url), cache: await proxyFor(REDIS_URL), storage: await proxyFor(server.endpoint) }
    : null;
  // As the origin does, migrations run unbounded on their own connection.
  const direct = nodePostgresSql(database.url, { max: 2, timeouts: null });
  await migrate(direct);
  const sql = nodePostgresSql(faults ? faults.database.urlFor(database.url) : database.url, { timeouts });
  const [writer, ...others] = options.locations ?? [];
  const extraServers = await Promise.all(
    others.map(async (name) => {
      const dir = await mkdtemp(join(tmpdir(), `pier-origin-s3-${name}-`));
      return { name, dir, server: await startS3Server({ root: dir, bucket: "pier", region: "us-east-1", ...credentials }) };
    }),
  );
  const locationSettings = new Map<string, S3Settings>(
    writer === undefined
      ? []
      : [[writer, s3], ...extraServers.map(({ name, server: other }): [string, S3Settings] => [name, { ...s3, endpoint: other.endpoint }])],
  );
  const locationEnv = writer === undefined ? {} : { PIER_STORAGE_LOCATIONS: JSON.stringify(Object.fromEntries(locationSettings)) };
  const config = loadRegistryConfig({ PIER_SERVER_HOSTNAME: TEST_HOST, PIER_URL_SCHEME: "https", ...locationEnv, ...options.env });
  await ensureStorageLocations(sql, config);
  const blobs = s3BlobStore(faults ? { ...s3, endpoint: faults.storage.urlFor(server.endpoint) } : s3, { timeoutMs: timeouts.storageMs });
  const locations =
    writer === undefined
      ? undefined
      : new Map(
          [...locationSettings].map(([name, settings]) => {
            const store = name === writer ? blobs : s3BlobStore(settings, { timeoutMs: timeouts.storageMs });
            return [name, { blobs: store, signer: store }];
          }),
        );
  // Test databases share one Redis: each fixture keeps to its own keys.
  const cachePrefix = `${database.name}:`;
  const cache = prefixedCache(
    redisCache({ url: faults ? faults.cache.urlFor(REDIS_URL) : REDIS_URL, commandTimeoutMs: timeouts.cacheMs }),
    cachePrefix,
  );
  const key = await createInstanceKey(sql, clock, `https://${TEST_HOST}`);
  const registry: Registry = {
    config,
    sql,
    cache,
    ...(locations === undefined ? { blobs, signer: blobs } : { ...locations.get(config.storageLocation)!, locations }),
    clock,
    keys: serviceKeys({ sql, clock }),
    signingKey: key.signing,
    upstream: guardedUpstream({ policy: { allowedHosts: config.ssrfAllowedHosts } }),
    hashing: nodeHashing,
    streamHashing: nodeStreamHashing,
  };
  return {
    registry,
    s3,
    locations: locationSettings,
    token: (subject, grants) =>
      issueRegistryToken(key.signing, clock, {
        audience: TEST_HOST,
        subject,
        access: Object.entries(grants).map(([name, actions]) => ({ type: "repository", name, actions })),
        context: {},
      }),
    faults,
    direct,
    databaseUrl: database.url,
    cachePrefix,
    async close() {
      await Promise.all([sql.close(), direct.close(), cache.close(), server.close(), ...extraServers.map((extra) => extra.server.close())]);
      if (faults) await Promise.all([faults.database.close(), faults.cache.close(), faults.storage.close()]);
      await database.drop();
      await Promise.all([root, ...extraServers.map((extra) => extra.dir)].map((dir) => rm(dir, { recursive: true, force: true })));
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

export async function startPushScene(label: string, options: OriginOptions & { clock?: Clock } = {}): Promise<PushScene> {
  const origin = await startOriginRegistry(label, options.clock ?? systemClock, options);
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
