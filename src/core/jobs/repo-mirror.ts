/**
 * The repository-mirror job (Quay's RepoMirrorWorker): claims due mirrors — SYNC_NOW,
 * enabled ones whose start has come, and claims that expired (a runner died) — with
 * FOR UPDATE SKIP LOCKED, so two runners never sync the same mirror, then syncs each
 * (core/mirror/sync.ts). A run syncs at most `mirrors` mirrors; the rest wait for the
 * next tick. Every runtime syncs, the edge's cron too (blobs verified with StreamHashing).
 */
import type { RegistryConfig } from "../config.js";
import { FieldEncrypter } from "../auth/field-encryption.js";
import type { Registry } from "../registry.js";
import { PullCache } from "../resources/pull-cache.js";
import { registryClient } from "../upstream/client.js";
import { syncMirror, type SyncOutcome } from "../mirror/sync.js";
import type { JobContext } from "./scheduler.js";
import { claimDueMirrors } from "../../db/queries/repo-mirror.js";

export interface RepoMirrorOptions {
  /** Mirrors synced per run. */
  mirrors: number;
  /** A claim (renewed after every tag) lasts this long; Quay holds 12 h and never reclaims. */
  claimMs: number;
}

export const REPO_MIRROR_DEFAULTS: RepoMirrorOptions = { mirrors: 5, claimMs: 10 * 60_000 };

export const repoMirrorEnabled = (config: RegistryConfig) => config.repoMirror;

/** One batch: claims and syncs due mirrors; how many it synced. Reports one line per mirror. */
export async function runRepoMirror(registry: Registry, context: JobContext, options = REPO_MIRROR_DEFAULTS): Promise<number> {
  const { sql, clock, config } = registry;
  const deps = {
    sql,
    clock,
    blobs: registry.blobs,
    hashing: registry.streamHashing,
    client: registryClient({ upstream: registry.upstream, cache: registry.cache, clock }),
    location: config.storageLocation,
    quota: config.quota,
    fields: config.databaseSecretKey === null ? null : new FieldEncrypter(config.databaseSecretKey),
    cache: new PullCache({ cache: registry.cache, clock, maxAgeMs: config.sharedCacheMaxAgeMs }),
    claimMs: options.claimMs,
  };
  const done: number[] = [];
  while (done.length < options.mirrors) {
    const now = clock.now();
    const [mirror] = await sql.transaction((tx) => claimDueMirrors(tx, now, now + options.claimMs, 1, done));
    if (mirror === undefined) break;
    done.push(mirror.id);
    let outcome: SyncOutcome | string;
    try {
      outcome = await syncMirror(deps, mirror);
    } catch (error) {
      // A database or storage failure mid-run: the claim expires and the next run takes the mirror again.
      outcome = `error: ${error instanceof Error ? error.message : String(error)}`;
    }
    context.report(`${mirror.namespace}/${mirror.repository} from ${mirror.external_reference}: ${outcome}`);
  }
  return done.length;
}
