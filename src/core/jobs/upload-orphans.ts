/**
 * Orphaned upload bytes: objects under `uploads/` that no `blobupload` row names (a
 * chunk written while PostgreSQL was down, a chunk whose delete failed), plus the blob
 * store's own leftovers of interrupted writes. Only what is older than the grace
 * period goes, so a chunk still being recorded is never taken. One bounded step per
 * call: one listing page from a random point of the key space (wrapping to the top),
 * so repeated runs reach every key without keeping a cursor. Idempotent.
 */
import type { Registry } from "../registry.js";
import { uploadKey } from "../storage-layout.js";
import { unreferencedUploadKeys } from "../../db/queries/uploads.js";

export interface OrphanSweepOptions {
  /** Objects younger than this are left alone (a session may still record them). */
  graceMinutes: number;
  /** Keys examined (and at most deleted) per call. */
  batchSize: number;
}

const PREFIX = "uploads/";

/** Deletes unreferenced `uploads/` objects older than the grace period; returns how many. */
export async function sweepOrphanedUploadObjects(registry: Registry, options: OrphanSweepOptions): Promise<number> {
  const cutoff = registry.clock.now() - options.graceMinutes * 60_000;
  const from = uploadKey(crypto.randomUUID());
  const page = await registry.blobs.list(PREFIX, { after: from, limit: options.batchSize });
  const keys = page.keys;
  if (page.next === undefined && keys.length < options.batchSize) {
    const wrapped = await registry.blobs.list(PREFIX, { limit: options.batchSize - keys.length });
    keys.push(...wrapped.keys.filter((k) => k.key <= from));
  }
  const old = keys.filter((k) => k.lastModified.getTime() < cutoff).map((k) => k.key);
  const orphans = await unreferencedUploadKeys(registry.sql, old);
  await Promise.all(orphans.map((key) => registry.blobs.delete(key)));
  return orphans.length;
}

/** Removes the blob store's leftovers of interrupted writes older than the grace period. */
export async function sweepAbandonedWrites(registry: Registry, options: OrphanSweepOptions): Promise<number> {
  const cutoff = new Date(registry.clock.now() - options.graceMinutes * 60_000);
  return (await registry.blobs.sweepAbandoned?.(cutoff, options.batchSize)) ?? 0;
}
