/**
 * Per-pull accounting for the Node origin: the same requests, in process, against
 * createApp() built as workers/origin.ts builds it (node-postgres, ioredis, S3), with
 * counting wrappers around the Sql and Cache ports. A cold pull is a fresh app (empty
 * isolate cache) after the repository's generation was bumped; a Redis-warm pull is a
 * fresh app with Redis filled; an isolate-warm pull repeats on the same app.
 */
import { nodeHashing } from "../src/adapters/hashing/node.js";
import { redisCache } from "../src/adapters/cache/redis.js";
import { nodePostgresSql } from "../src/adapters/sql/node-postgres.js";
import { guardedUpstream } from "../src/adapters/upstream/guarded-fetch.js";
import { resolveAll } from "../src/adapters/upstream/node-resolver.js";
import { serviceKeys } from "../src/core/auth/service-keys.js";
import { loadRegistryConfig, loadS3Settings } from "../src/core/config.js";
import { MediaType } from "../src/core/model/media-types.js";
import { systemClock } from "../src/core/ports/clock.js";
import type { Registry } from "../src/core/registry.js";
import { PullCache } from "../src/core/resources/pull-cache.js";
import { createApp } from "../src/http/app.js";
import { countingCache, countingSql } from "../test/support/counting.js";
import type { EdgeBindings } from "../test/support/gateways.js";
import type { LayoutImage } from "../test/support/oci-layout.js";
import { REDIS_URL } from "../test/support/services.js";
import { s3Storage } from "../workers/s3-storage.js";

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

/** Counts SQL statements and Redis round trips of anonymous pulls of `<repository>:v1` (a public repository holding `image`). */
export async function measureAccounting(bindings: EdgeBindings, repository: string, image: LayoutImage): Promise<AccountingRow[]> {
  const env = { ...bindings, REDIS_URL };
  const baseSql = nodePostgresSql(bindings.DATABASE_URL);
  const baseCache = redisCache({ url: REDIS_URL });
  const sql = countingSql(baseSql);
  const cache = countingCache(baseCache);
  const config = loadRegistryConfig(env);
  const registry: Registry = {
    config,
    sql: sql.target,
    cache: cache.target,
    ...s3Storage(env, loadS3Settings(env)!, systemClock),
    clock: systemClock,
    keys: serviceKeys({ sql: sql.target, clock: systemClock }),
    signingKey: null,
    upstream: guardedUpstream({ policy: { allowedHosts: config.ssrfAllowedHosts }, resolve: resolveAll }),
    hashing: nodeHashing,
  };
  const rows: AccountingRow[] = [];
  try {
    for (const pull of pulls(repository, image)) {
      // What a writer does after its commit: every cached entry of the repository is stale.
      await new PullCache({ cache: baseCache, clock: systemClock }).bump(repository);
      let app = createApp(registry);
      for (const scenario of ["cold", "warm (Redis)", "warm (isolate)"] as const) {
        if (scenario === "warm (Redis)") app = createApp(registry);
        sql.reset();
        cache.reset();
        const failures: string[] = [];
        for (const request of pull.requests) {
          const response = await app.request(`http://127.0.0.1${request.path}`, {
            method: request.method,
            headers: { accept: MANIFEST_ACCEPT },
          });
          await response.arrayBuffer();
          if (response.status !== request.expect)
            failures.push(`${request.method} ${request.path}: ${response.status}, expected ${request.expect}`);
        }
        rows.push({ pull: pull.name, scenario, requests: pull.requests.length, sql: sql.count(), redis: cache.count(), failures });
      }
    }
  } finally {
    await Promise.all([baseSql.close(), baseCache.close()]);
  }
  return rows;
}
