/**
 * Per-pull accounting for the Node origin: the same requests, in process, against
 * createApp() built as workers/origin.ts builds it (node-postgres, ioredis, S3), with
 * counting wrappers around the Sql and Cache ports. A cold pull is a fresh app (empty
 * isolate cache) after the repository's generation was bumped; a Redis-warm pull is a
 * fresh app with Redis filled; an isolate-warm pull repeats on the same app. The same
 * pulls of a tag the proxy cache filled once (issue 10) run against a registry with
 * PIER_PROXY_CACHE on.
 */
import { nodeHashing, nodeStreamHashing } from "../src/adapters/hashing/node.js";
import { redisCache } from "../src/adapters/cache/redis.js";
import { nodePostgresSql } from "../src/adapters/sql/node-postgres.js";
import { guardedUpstream } from "../src/adapters/upstream/guarded-fetch.js";
import { resolveAll } from "../src/adapters/upstream/node-resolver.js";
import { createInstanceKey, serviceKeys } from "../src/core/auth/service-keys.js";
import { loadRegistryConfig, loadS3Settings } from "../src/core/config.js";
import { MediaType } from "../src/core/model/media-types.js";
import type { Cache } from "../src/core/ports/cache.js";
import type { SigningKey } from "../src/core/ports/keys.js";
import type { Sql } from "../src/core/ports/sql.js";
import { systemClock } from "../src/core/ports/clock.js";
import type { Registry } from "../src/core/registry.js";
import { PullCache } from "../src/core/resources/pull-cache.js";
import { createApp } from "../src/http/app.js";
import { countingCache, countingSql, type Counted } from "../test/support/counting.js";
import type { EdgeBindings } from "../test/support/gateways.js";
import type { LayoutImage } from "../test/support/oci-layout.js";
import { REDIS_URL } from "../test/support/services.js";
import { s3Storage } from "../workers/s3-storage.js";
import { PROXY_ENV } from "./proxy-setup.js";

export type Scenario = "cold" | "warm (Redis)" | "warm (isolate)";

/** The pull the cache targets are about. */
export const MANIFEST_PULL = "manifest by tag";

export interface AccountingRow {
  pull: string;
  scenario: Scenario;
  requests: number;
  sql: number;
  redis: number;
  /** Responses that were not what a pull gets (empty when all were). */
  failures: string[];
}

interface PullRequest {
  method: "GET" | "HEAD";
  path: string;
  expect: number;
}

const MANIFEST_ACCEPT = [MediaType.ociManifest, MediaType.ociIndex, MediaType.dockerManifest, MediaType.dockerManifestList].join(", ");

function pulls(repository: string, image: LayoutImage): { name: string; requests: PullRequest[] }[] {
  const manifest: PullRequest = { method: "GET", path: `/v2/${repository}/manifests/v1`, expect: 200 };
  const blobs = `/v2/${repository}/blobs`;
  return [
    { name: MANIFEST_PULL, requests: [manifest] },
    {
      name: `whole image (manifest, config, ${image.layers.length} × layer HEAD + GET)`,
      requests: [
        manifest,
        { method: "GET", path: `${blobs}/${image.config.digest}`, expect: 302 },
        ...image.layers.flatMap((layer): PullRequest[] => [
          { method: "HEAD", path: `${blobs}/${layer.digest}`, expect: 200 },
          { method: "GET", path: `${blobs}/${layer.digest}`, expect: 302 },
        ]),
      ],
    },
  ];
}

/** A repository and the image its `v1` tag holds. */
export interface AccountingSubject {
  repository: string;
  image: LayoutImage;
}

/** Pull names of the proxy-cache rows: the same pulls, prefixed. */
export const CACHED_PREFIX = "cache org, cached tag: ";
/** Pull names of the rows they are compared with: a pushed image of the same shape on the same registry. */
export const PUSHED_PREFIX = "proxy cache on, pushed image: ";

function buildRegistry(env: Record<string, string>, sql: Counted<Sql>, cache: Counted<Cache>, signingKey: SigningKey | null): Registry {
  const config = loadRegistryConfig(env);
  return {
    config,
    sql: sql.target,
    cache: cache.target,
    ...s3Storage(env, loadS3Settings(env)!, systemClock),
    clock: systemClock,
    keys: serviceKeys({ sql: sql.target, clock: systemClock }),
    signingKey,
    upstream: guardedUpstream({ policy: { allowedHosts: config.ssrfAllowedHosts }, resolve: resolveAll }),
    hashing: nodeHashing,
    streamHashing: nodeStreamHashing,
  };
}

/** Runs each pull cold, warm (Redis) and warm (isolate) against fresh apps over `registry`, counting what each scenario costs. */
async function measurePulls(
  registry: Registry,
  counted: { sql: Counted<Sql>; cache: Counted<Cache>; baseCache: Cache },
  subject: AccountingSubject,
  prefix: string,
  authorization: string | null,
): Promise<AccountingRow[]> {
  const rows: AccountingRow[] = [];
  for (const pull of pulls(subject.repository, subject.image)) {
    // What a writer does after its commit: every cached entry of the repository is stale.
    await new PullCache({ cache: counted.baseCache, clock: systemClock }).bump(subject.repository);
    let app = createApp(registry);
    for (const scenario of ["cold", "warm (Redis)", "warm (isolate)"] as const) {
      if (scenario === "warm (Redis)") app = createApp(registry);
      counted.sql.reset();
      counted.cache.reset();
      const failures: string[] = [];
      for (const request of pull.requests) {
        const headers: Record<string, string> = { accept: MANIFEST_ACCEPT };
        if (authorization !== null) headers.authorization = authorization;
        const response = await app.request(`http://127.0.0.1${request.path}`, { method: request.method, headers });
        await response.arrayBuffer();
        if (response.status !== request.expect)
          failures.push(`${request.method} ${request.path}: ${response.status}, expected ${request.expect}`);
      }
      rows.push({
        pull: `${prefix}${pull.name}`,
        scenario,
        requests: pull.requests.length,
        sql: counted.sql.count(),
        redis: counted.cache.count(),
        failures,
      });
    }
  }
  return rows;
}

/** An anonymous pull token for `repository` from the app's own /v2/auth (not counted: clients fetch it once per pull). */
async function pullToken(registry: Registry, repository: string): Promise<string> {
  const response = await createApp(registry).request(`http://127.0.0.1/v2/auth?service=127.0.0.1&scope=repository:${repository}:pull`);
  if (response.status !== 200) throw new Error(`/v2/auth for ${repository}: ${response.status} ${await response.text()}`);
  return `Bearer ${((await response.json()) as { token: string }).token}`;
}

/**
 * Counts SQL statements and Redis round trips of anonymous pulls of `local` (a public
 * repository). With `proxy`: the same on a registry with PIER_PROXY_CACHE on, of
 * `proxy.cached` (a repository of a cache organization, filled once through the proxy
 * cache; pulled with an anonymous token, its verification key loaded in the cold run)
 * and of `proxy.pushed` (a public repository holding an image of the same shape).
 */
export async function measureAccounting(
  bindings: EdgeBindings,
  local: AccountingSubject,
  proxy: { cached: AccountingSubject; pushed: AccountingSubject } | null,
): Promise<AccountingRow[]> {
  const env = { ...bindings, REDIS_URL };
  const baseSql = nodePostgresSql(bindings.DATABASE_URL);
  const baseCache = redisCache({ url: REDIS_URL });
  const counted = { sql: countingSql(baseSql), cache: countingCache(baseCache), baseCache };
  try {
    const rows = await measurePulls(buildRegistry(env, counted.sql, counted.cache, null), counted, local, "", null);
    if (proxy !== null) {
      const key = await createInstanceKey(baseSql, systemClock, "pier-bench-accounting");
      const registry = buildRegistry({ ...env, ...PROXY_ENV }, counted.sql, counted.cache, key.signing);
      const token = await pullToken(registry, proxy.cached.repository);
      rows.push(...(await measurePulls(registry, counted, proxy.cached, CACHED_PREFIX, token)));
      rows.push(...(await measurePulls(registry, counted, proxy.pushed, PUSHED_PREFIX, null)));
    }
    return rows;
  } finally {
    await Promise.all([baseSql.close(), baseCache.close()]);
  }
}
