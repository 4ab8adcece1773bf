/**
 * The garbage collection job (Quay's gcworker, data/model/gc.py), one bounded batch per
 * run: tags past the time machine, expired upload links, then whatever they leave
 * unused — manifests (children and subjects in turn), labels, storage rows — and last
 * the blobs' objects, at every placement this runtime can reach. Each item is its own
 * transaction that re-checks its condition under the lock writers take, so a push,
 * mount, manifest PUT or restore racing it never loses anything (docs/jobs.md).
 *
 * Beyond Quay: expired upload links are collected in every repository, not only where
 * a tag expired, and a sweep walks all storage rows for orphans that earlier runs (or
 * Quay) left behind.
 */
import type { Queryable } from "../ports/sql.js";
import type { Registry } from "../registry.js";
import { PullCache } from "../resources/pull-cache.js";
import { blobKey, legacyBlobKey } from "../storage-layout.js";
import { storeAt } from "../storage-locations.js";
import {
  deleteExpiredTags,
  deleteExpiredUploadLinks,
  deleteManifestRows,
  deleteOrphanedStorages,
  deleteUnusedLabels,
  findExpiredTags,
  findOrphanedStorages,
  findUntaggedManifests,
  lockUnusedManifests,
  pageEnd,
  type CollectedStorage,
} from "../../db/queries/gc.js";
import { subtractManifestsFromTotals } from "../../db/queries/quota.js";
import type { JobContext } from "./scheduler.js";

export interface GcLimits {
  /** Expired tags per run. */
  tags: number;
  /** Expired upload links per run. */
  uploadLinks: number;
  /** Manifest and storage rows each sweep looks at per run. */
  sweepPage: number;
}

export const GC_LIMITS: GcLimits = { tags: 500, uploadLinks: 500, sweepPage: 1000 };

/** Items per transaction: tags (Quay: 10), manifests, storage rows. Groups keep the statements per item small. */
const TAG_GROUP = 100;
const MANIFEST_GROUP = 50;
const STORAGE_GROUP = 100;
/** Object deletes in flight at once, inside a storage group's transaction. */
const OBJECT_DELETES_AT_ONCE = 16;

/** Where each sweep resumes, in the shared cache. */
export const SWEEP_CURSOR_KEYS = { manifest: "pier:gc:manifest-cursor", imagestorage: "pier:gc:storage-cursor" } as const;

/** The gzipped empty tar of Docker schema 1 images: Quay never deletes its object. */
const EMPTY_LAYER_DIGEST = "sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4";

/** One transaction per item; in a dry run a savepoint inside the one transaction that is rolled back. */
type Step = <T>(fn: (tx: Queryable) => Promise<T>) => Promise<T>;

/** One batch's state, shared by GC's steps and the purge job. */
export interface GcRun {
  registry: Registry;
  context: JobContext;
  /** Reads between steps (in a dry run, inside the transaction, so they see its deletes). */
  read: Queryable;
  step: Step;
  /** Repositories whose pull cache must forget (a manifest went). */
  touched: Set<string>;
  processed: number;
}

/** One batch of garbage collection; how many tags, links, manifests, labels and blobs it removed. */
export function collectGarbage(registry: Registry, context: JobContext, limits: GcLimits = GC_LIMITS): Promise<number> {
  return withGcRun(registry, context, async (run) => {
    const manifests = await collectExpiredTags(run, limits.tags);
    const untagged = await sweep(run, "manifest", limits.sweepPage, (after, last) => findUntaggedManifests(run.read, after, last));
    const storages = await run.step((tx) => deleteExpiredUploadLinks(tx, new Date(registry.clock.now()), limits.uploadLinks));
    run.processed += storages.length;
    const leftovers = await collectManifests(run, [...manifests, ...untagged]);
    run.processed += await run.step((tx) => deleteUnusedLabels(tx, leftovers.labels));
    await collectStorages(run, [...storages, ...leftovers.storages]);
    await collectStorages(
      run,
      await sweep(run, "imagestorage", limits.sweepPage, (after, last) => findOrphanedStorages(run.read, after, last)),
    );
  });
}

/**
 * Runs `body` with one transaction per step, or (dry run) with every step a savepoint in
 * one transaction that is rolled back at the end; then makes the pull cache forget the
 * repositories it touched. How many items it processed.
 */
export async function withGcRun(registry: Registry, context: JobContext, body: (run: GcRun) => Promise<void>): Promise<number> {
  const touched = new Set<string>();
  const processed = await inSteps(registry, context.dryRun, async (read, step) => {
    const run: GcRun = { registry, context, read, step, touched, processed: 0 };
    await body(run);
    return run.processed;
  });
  if (!context.dryRun && touched.size > 0) {
    const cache = new PullCache({ cache: registry.cache, clock: registry.clock, maxAgeMs: registry.config.sharedCacheMaxAgeMs });
    for (const repository of touched) await cache.bump(repository).catch(() => {});
  }
  return processed;
}

const ROLLBACK = Symbol("dry run");

async function inSteps<T>(registry: Registry, dryRun: boolean, body: (read: Queryable, step: Step) => Promise<T>): Promise<T> {
  if (!dryRun) return body(registry.sql, (fn) => registry.sql.transaction(fn));
  let result: T | undefined;
  try {
    await registry.sql.transaction(async (outer) => {
      let savepoints = 0;
      const step: Step = async (fn) => {
        const name = `gc_item_${savepoints++}`;
        await outer.query(`SAVEPOINT ${name}`);
        try {
          const value = await fn(outer);
          await outer.query(`RELEASE SAVEPOINT ${name}`);
          return value;
        } catch (error) {
          await outer.query(`ROLLBACK TO SAVEPOINT ${name}`);
          throw error;
        }
      };
      result = await body(outer, step);
      throw ROLLBACK;
    });
  } catch (error) {
    if (error !== ROLLBACK) throw error;
  }
  return result as T;
}

/** Items that fail (a lock timeout, a row another writer changed) stay for the next run. */
export async function attempt<T>(run: GcRun, what: string, fn: () => Promise<T>): Promise<T | null> {
  try {
    return await fn();
  } catch (error) {
    run.context.report(`kept ${what}: ${error instanceof Error ? error.message : String(error)}`);
    return null;
  }
}

/**
 * Runs `step` on groups of `size` items, each group one transaction; a group that fails
 * is tried again one item at a time, so one item that cannot go (a row of a table
 * Pier does not know references it) keeps only itself.
 */
async function inGroups<T, R>(
  run: GcRun,
  what: string,
  items: readonly T[],
  size: number,
  step: (tx: Queryable, group: T[]) => Promise<R[]>,
): Promise<R[]> {
  const done: R[] = [];
  for (let start = 0; start < items.length; start += size) {
    const group = items.slice(start, start + size);
    const result = await attempt(run, `${group.length} ${what}`, () => run.step((tx) => step(tx, group)));
    if (result !== null) done.push(...result);
    else if (group.length > 1) {
      for (const item of group)
        done.push(
          ...((await attempt(run, `${what} ${typeof item === "object" ? JSON.stringify(item) : String(item)}`, () =>
            run.step((tx) => step(tx, [item])),
          )) ?? []),
        );
    }
  }
  return done;
}

async function collectExpiredTags(run: GcRun, limit: number): Promise<number[]> {
  const now = run.registry.clock.now();
  const tags = await findExpiredTags(run.read, now, limit);
  const deleted = await inGroups(run, "tags", tags, TAG_GROUP, (tx, group) =>
    deleteExpiredTags(
      tx,
      group.map((t) => t.id),
      now,
    ),
  );
  for (const gone of deleted) {
    const tag = tags.find((t) => t.id === gone.id)!;
    run.context.report(`tag ${tag.repository}:${tag.name}`);
  }
  run.processed += deleted.length;
  return deleted.map((gone) => gone.manifestId);
}

/**
 * Deletes the unused among the candidate manifests, then the children and subjects the
 * deletions may have freed, round after round; the labels and storage rows they referenced.
 */
async function collectManifests(run: GcRun, candidates: readonly number[]): Promise<{ labels: number[]; storages: number[] }> {
  const quota = run.registry.config.quota.enabled;
  const labels = new Set<number>();
  const storages = new Set<number>();
  let round = [...new Set(candidates)];
  while (round.length > 0) {
    const collected = await inGroups(run, "manifests", round, MANIFEST_GROUP, async (tx, group) => {
      const unused = await lockUnusedManifests(tx, group);
      const ids = unused.map((m) => m.id);
      if (quota) await subtractManifestsFromTotals(tx, ids);
      if (ids.length > 0) await deleteManifestRows(tx, ids);
      return unused;
    });
    const next = new Set<number>();
    for (const manifest of collected) {
      run.context.report(`manifest ${manifest.repository}@${manifest.digest}`);
      run.touched.add(manifest.repository);
      for (const id of [...manifest.childIds, ...manifest.subjectIds]) next.add(id);
      for (const label of manifest.labelIds) labels.add(label);
      for (const storage of manifest.storageIds) storages.add(storage);
    }
    run.processed += collected.length;
    round = [...next];
  }
  return { labels: [...labels], storages: [...storages] };
}

/** Deletes the orphaned among the storage rows and then, still under their digest locks, their objects. */
export async function collectStorages(run: GcRun, storageIds: readonly number[]): Promise<void> {
  const collected = await inGroups(run, "blobs", [...new Set(storageIds)], STORAGE_GROUP, async (tx, group) => {
    const storages = await deleteOrphanedStorages(tx, group);
    await boundedAll(storages, OBJECT_DELETES_AT_ONCE, (storage) => deleteObjects(run, storage));
    return storages;
  });
  for (const storage of collected) {
    const bytes = storage.size ?? 0;
    run.context.report(`blob ${storage.digest ?? storage.uuid} (${bytes} bytes)`);
    if (storage.objectKeyOf !== null) run.context.reclaimed(bytes);
  }
  run.processed += collected.length;
}

/** Runs `fn` on every item, at most `limit` at once; rejects with the first failure. */
async function boundedAll<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

async function deleteObjects(run: GcRun, storage: CollectedStorage): Promise<void> {
  const key =
    storage.objectKeyOf === "cas" && storage.digest !== null
      ? blobKey(storage.digest)
      : storage.objectKeyOf === "legacy"
        ? legacyBlobKey(storage.uuid)
        : null;
  if (key === null || storage.digest === EMPTY_LAYER_DIGEST) return;
  for (const location of storage.locations) {
    const store = storeAt(run.registry, location)?.blobs ?? null;
    if (store === null) {
      run.context.report(`left ${key} in ${location}: this runtime cannot reach that location`);
    } else if (!run.context.dryRun) {
      await store.delete(key);
    }
  }
}


/**
 * The candidates in the next page of a sweep over all rows of `table`: it resumes where
 * the last run stopped and wraps at the end, so every row is looked at again and again.
 */
async function sweep(
  run: GcRun,
  table: keyof typeof SWEEP_CURSOR_KEYS,
  pageSize: number,
  candidates: (after: number, last: number) => Promise<number[]>,
): Promise<number[]> {
  const cache = run.registry.cache;
  const key = SWEEP_CURSOR_KEYS[table];
  const after = Number((await cache.get(key).catch(() => null)) ?? 0) || 0;
  const last = await pageEnd(run.read, table, after, pageSize);
  if (!run.context.dryRun) await cache.set(key, String(last ?? 0), 30 * 24 * 3600).catch(() => {});
  return last === null ? [] : candidates(after, last);
}
