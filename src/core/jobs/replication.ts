/**
 * The replication job (Quay's StorageReplicationWorker, FEATURE_STORAGE_REPLICATION):
 * copies each placed blob to the locations its namespaces must have (their `userregion`
 * rows and the default locations) and records each new placement.
 *
 * - Work is Quay's queue (`imagestoragereplication/<uuid>/` items in `queueitem`), so a
 *   Quay worker sharing the database takes Pier's items and the reverse. Where Quay queues
 *   a pushed manifest's blobs, each run sweeps a page of storage rows and queues the blobs
 *   that miss a location and have no item (Quay's backfillreplication, continuously).
 * - Items are claimed as Quay claims them (one retry spent, a reservation), with
 *   FOR UPDATE SKIP LOCKED, so two runners never copy the same blob.
 * - A copy streams from the best source holding the object into a temporary key of the
 *   target, hashed on the way; only bytes that hash to the digest move to the blob's key,
 *   and only then is the placement recorded (under the digest lock GC takes). A run that
 *   stops anywhere leaves at most a temporary object (the upload-orphans sweep removes it).
 * - Failures retry with exponential backoff (1, 2, 4, 8 min…) until the item's five
 *   claims are spent; then it stays, dead, as Quay leaves it (counted in the backlog).
 *
 * Every runtime copies, the edge too: the copies are verified with StreamHashing.
 */
import type { RegistryConfig } from "../config.js";
import { parseDigest } from "../model/digest.js";
import type { BlobStore } from "../ports/blob-store.js";
import type { StreamHashing } from "../ports/hashing.js";
import type { Sql } from "../ports/sql.js";
import { meteredBody, writeObject } from "../push/objects.js";
import type { Registry } from "../registry.js";
import { blobKey, legacyBlobKey, uploadKey } from "../storage-layout.js";
import { ensureStorageLocation, locationStores, type LocationStore } from "../storage-locations.js";
import type { JobContext } from "./scheduler.js";
import {
  claimReplicationItems,
  completeItem,
  enqueueMissing,
  findReplicationTarget,
  lockReplicationSweep,
  recordPlacement,
  renewItem,
  replicationBacklog,
  retryItem,
  storagePageEnd,
  type ReplicationItem,
  type ReplicationTarget,
  type ReplicationTargets,
  type StorageSelection,
} from "../../db/queries/replication.js";

export interface ReplicationOptions {
  /** Items claimed per run. */
  items: number;
  /** Storage rows the sweep looks at per run. */
  sweepPage: number;
  /** Reservation of a claimed item (Quay: 1200 s). */
  reservationMs: number;
  /** First retry delay; doubled for each claim spent. */
  backoffMs: number;
}

export const REPLICATION_DEFAULTS: ReplicationOptions = { items: 20, sweepPage: 1000, reservationMs: 20 * 60_000, backoffMs: 60_000 };

export const replicationEnabled = (config: RegistryConfig) => config.storage.replication && config.storage.locations.length > 1;

/** Where the sweep resumes, in the shared cache. */
export const REPLICATION_SWEEP_KEY = "pier:replication:sweep";
/** Counters of copies (bytes, blobs, lag), a hash in the shared cache read by replicationStats. */
export const REPLICATION_STATS_KEY = "pier:replication:stats";

/** A copy that cannot be right as it stands (bytes that do not hash to the digest, no source). */
export class ReplicationError extends Error {
  override name = "ReplicationError";
}

/** One batch: sweep a page, then claim and process up to `items` items; how many items it finished. */
export async function runReplication(registry: Registry, context: JobContext, options = REPLICATION_DEFAULTS): Promise<number> {
  const { sql, clock, config } = registry;
  for (const name of config.storage.locations) await ensureStorageLocation(sql, name);
  const queued = await sweep(registry, options.sweepPage);
  if (queued > 0) context.report(`queued ${queued} blobs missing a location`);
  const now = clock.now();
  const items = await sql.transaction((tx) =>
    claimReplicationItems(tx, new Date(now), new Date(now + options.reservationMs), options.items),
  );
  let done = 0;
  for (const item of items) {
    try {
      const outcome = await replicateItem(registry, item, context, options.reservationMs);
      await completeItem(sql, item);
      if (outcome !== null) context.report(outcome);
      done++;
    } catch (error) {
      // Quay retries after 300 s; Pier backs off from a minute, doubling with each claim spent.
      const spent = 5 - item.retriesRemaining;
      await retryItem(sql, item, new Date(clock.now() + options.backoffMs * 2 ** Math.max(0, spent - 1)));
      context.report(
        `storage ${item.storageUuid}: ${error instanceof Error ? error.message : String(error)} (${item.retriesRemaining} claims left)`,
      );
    }
  }
  return done + queued;
}

async function sweep(registry: Registry, pageSize: number): Promise<number> {
  const { sql, cache, clock, config } = registry;
  const after = Number((await cache.get(REPLICATION_SWEEP_KEY).catch(() => null)) ?? 0) || 0;
  const last = await storagePageEnd(sql, after, pageSize);
  await cache.set(REPLICATION_SWEEP_KEY, String(last ?? 0), 30 * 24 * 3600).catch(() => {});
  if (last === null) return 0;
  return queueMissing(sql, { after, last }, config, clock.now());
}

/** The locations that count here: every configured one, and those every blob must reach. */
function targetsOf(config: RegistryConfig): ReplicationTargets {
  return { configured: config.storage.locations, defaults: config.storage.defaultLocations };
}

/**
 * Queues the selected blobs that miss a location (none when replication is off). One
 * caller at a time queues, so two runners never queue the same blob twice. Also called
 * after a manifest push for its blobs, as Quay queues them.
 */
export function queueMissing(sql: Sql, selection: StorageSelection, config: RegistryConfig, nowMs: number): Promise<number> {
  if (!replicationEnabled(config)) return Promise.resolve(0);
  return sql.transaction(async (tx) => {
    await lockReplicationSweep(tx);
    return enqueueMissing(tx, selection, targetsOf(config), new Date(nowMs));
  });
}

/** Copies one queued blob to every location it misses that this runtime reaches; a report line, or null when nothing was missing. */
async function replicateItem(
  registry: Registry,
  item: ReplicationItem,
  context: JobContext,
  reservationMs: number,
): Promise<string | null> {
  const { sql, config } = registry;
  // Quay completes items of unknown storages and of storages without a placement silently.
  if (item.storageUuid === null) return null;
  const target = await findReplicationTarget(sql, item.storageUuid, targetsOf(config));
  if (target === null || target.placements.length === 0) return null;
  const stores = locationStores(registry);
  const missing = target.required.filter((name) => !target.placements.includes(name));
  if (missing.length === 0) return null;
  const reachable = missing.filter((name) => stores.has(name));
  const unreachable = missing.filter((name) => !stores.has(name));
  if (unreachable.length > 0) context.report(`storage ${item.storageUuid}: ${unreachable.join(", ")} not reachable from this runtime`);
  if (reachable.length === 0) return null;
  const parsed = target.digest === null ? null : parseDigest(target.digest);
  if (parsed === null || (parsed.algorithm !== "sha256" && parsed.algorithm !== "sha512") || target.size === null) {
    return `storage ${item.storageUuid}: no verifiable digest and size, not copied`;
  }
  const key = target.casPath ? blobKey(target.digest!) : legacyBlobKey(item.storageUuid);
  if (key === null) return `storage ${item.storageUuid}: no object key, not copied`;
  const source = await findSource(registry, target, key);
  const copied: string[] = [];
  for (const location of reachable) {
    const store = stores.get(location)!;
    // Each copy starts with a fresh reservation; a claim taken over (expired) is left to its new holder.
    if (!(await renewItem(sql, item, new Date(registry.clock.now() + reservationMs)))) {
      throw new ReplicationError("the claim expired and another runner took the item");
    }
    await copyVerified(registry.streamHashing, source, store.blobs, key, target);
    const alive = await sql.transaction((tx) => recordPlacement(tx, target.storageId, target.digest!, location));
    // GC collected the blob while it was copied: the copy goes too.
    if (!alive) {
      await store.blobs.delete(key).catch(() => {});
      return `storage ${item.storageUuid}: collected during the copy`;
    }
    copied.push(location);
    await registry.cache.addToFields(REPLICATION_STATS_KEY, { bytes_copied: target.size, blobs_copied: 1 }).catch(() => {});
  }
  if (unreachable.length === 0 && item.queuedAtMs !== null) {
    // Lag: from the blob being found (or pushed) short of a location to its last copy.
    const lagSeconds = Math.max(0, (registry.clock.now() - item.queuedAtMs) / 1000);
    await registry.cache.addToFields(REPLICATION_STATS_KEY, { lag_seconds_sum: lagSeconds, lag_count: 1 }).catch(() => {});
  }
  return `${target.digest} (${target.size} bytes) copied to ${copied.join(", ")}`;
}

/** The first placement, in read-preference order, whose object is there with the right size. */
async function findSource(registry: Registry, target: ReplicationTarget, key: string): Promise<BlobStore> {
  const stores = locationStores(registry);
  const order = [...registry.config.storage.preference.filter((n) => target.placements.includes(n)), ...target.placements];
  for (const name of new Set(order)) {
    const store: LocationStore | undefined = stores.get(name);
    if (store === undefined) continue;
    const stat = await store.blobs.stat(key);
    if (stat !== null && stat.size === target.size) return store.blobs;
  }
  throw new ReplicationError(`no location holding ${target.digest} has its object (placements: ${target.placements.join(", ")})`);
}

/** Streams the object from `source` into a temporary key of `to`, hashed; moves it to `key` only when it hashes to the digest. */
async function copyVerified(hashing: StreamHashing, source: BlobStore, to: BlobStore, key: string, target: ReplicationTarget): Promise<void> {
  const digest = target.digest!;
  const size = target.size!;
  const read = await source.get(key);
  if (read === null) throw new ReplicationError(`the source object of ${digest} vanished`);
  const hash = hashing.create(parseDigest(digest)!.algorithm as "sha256" | "sha512");
  const metered = meteredBody(read.body, size, [hash]);
  const temp = uploadKey(crypto.randomUUID());
  try {
    await writeObject(to, temp, metered.stream, size);
    const computed = await hash.digest();
    if (computed !== digest) throw new ReplicationError(`the source sent bytes hashing to ${computed} for ${digest}`);
    await to.copy(temp, key);
  } finally {
    await to.delete(temp).catch(() => {});
  }
}

/** Replication figures: the backlog (queued and dead items) and the copies' counters. */
export async function replicationStats(
  registry: Registry,
): Promise<{ queued: number; dead: number; bytesCopied: number; blobsCopied: number; lagSecondsSum: number; lagCount: number }> {
  const backlog = await replicationBacklog(registry.sql);
  const fields = await registry.cache.readFields(REPLICATION_STATS_KEY).catch((): Record<string, number> => ({}));
  return {
    ...backlog,
    bytesCopied: fields.bytes_copied ?? 0,
    blobsCopied: fields.blobs_copied ?? 0,
    lagSecondsSum: fields.lag_seconds_sum ?? 0,
    lagCount: fields.lag_count ?? 0,
  };
}

/** The replication figures in Prometheus' text format (cluster-wide: from the database and the shared cache). */
export function replicationExposition(stats: Awaited<ReturnType<typeof replicationStats>>): string {
  return [
    "# HELP pier_replication_backlog Blobs queued for replication (queued), and those that spent every claim (dead).",
    "# TYPE pier_replication_backlog gauge",
    `pier_replication_backlog{state="queued"} ${stats.queued}`,
    `pier_replication_backlog{state="dead"} ${stats.dead}`,
    "# HELP pier_replication_bytes_total Blob bytes copied to other storage locations.",
    "# TYPE pier_replication_bytes_total counter",
    `pier_replication_bytes_total ${stats.bytesCopied}`,
    "# HELP pier_replication_blobs_total Blob copies made to other storage locations.",
    "# TYPE pier_replication_blobs_total counter",
    `pier_replication_blobs_total ${stats.blobsCopied}`,
    "# HELP pier_replication_lag_seconds From a blob being queued short of a location to its last copy.",
    "# TYPE pier_replication_lag_seconds summary",
    `pier_replication_lag_seconds_sum ${stats.lagSecondsSum}`,
    `pier_replication_lag_seconds_count ${stats.lagCount}`,
    "",
  ].join("\n");
}
