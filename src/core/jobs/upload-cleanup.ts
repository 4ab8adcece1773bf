/**
 * Stale upload cleanup (Quay's blobuploadcleanupworker): upload sessions older than
 * the threshold are abandoned; their bytes under `uploads/` and their `blobupload`
 * rows are removed. One bounded batch per call; rows are claimed with SKIP LOCKED so
 * concurrent runs split the work, and a crash mid-batch is retried next run.
 */
import type { Registry } from "../registry.js";
import type { JobContext } from "./scheduler.js";
import { uploadKey } from "../storage-layout.js";
import { intArray } from "../../db/queries/arrays.js";

export interface UploadCleanupOptions {
  /** Quay's BLOBUPLOAD_DELETION_DATE_THRESHOLD (default 2880 minutes = 2 days). */
  olderThanMinutes: number;
  batchSize: number;
}

interface StaleUpload {
  id: number;
  uuid: string;
  storage_metadata: string | null;
  created: Date;
}

/** Object keys an upload session owns: its own key plus S3-style chunk objects. */
export function uploadObjectKeys(upload: { uuid: string; storage_metadata: string | null }): string[] {
  const keys = new Set([uploadKey(upload.uuid)]);
  try {
    const chunks = (JSON.parse(upload.storage_metadata || "{}") as { chunks?: unknown }).chunks;
    if (Array.isArray(chunks)) {
      for (const chunk of chunks) {
        const path = Array.isArray(chunk) ? chunk[0] : undefined;
        // Metadata comes from the database; never let it name keys outside uploads/.
        if (typeof path === "string" && /^uploads\/[A-Za-z0-9-]+$/.test(path)) keys.add(path);
      }
    }
  } catch {
    // Unreadable metadata: the session's own key is still removed.
  }
  return [...keys];
}

/**
 * Removes one batch of stale uploads; returns how many sessions were removed. With
 * `context` each one is reported; in a dry run nothing is locked or removed.
 */
export async function cleanupStaleUploads(registry: Registry, options: UploadCleanupOptions, context?: JobContext): Promise<number> {
  const threshold = new Date(registry.clock.now() - options.olderThanMinutes * 60_000);
  const dryRun = context?.dryRun ?? false;
  return registry.sql.transaction(async (tx) => {
    const { rows } = await tx.query<StaleUpload>(
      `SELECT id, uuid, storage_metadata, created FROM blobupload WHERE created < $1 ORDER BY id LIMIT $2 ${dryRun ? "" : "FOR UPDATE SKIP LOCKED"}`,
      [threshold, options.batchSize],
    );
    for (const upload of rows) context?.report(`upload ${upload.uuid} (started ${new Date(upload.created).toISOString()})`);
    if (rows.length === 0 || dryRun) return rows.length;
    for (const upload of rows) {
      await Promise.all(uploadObjectKeys(upload).map((key) => registry.blobs.delete(key)));
    }
    await tx.query(`DELETE FROM blobupload WHERE id = ANY($1::int[])`, [intArray(rows.map((r) => r.id))]);
    return rows.length;
  });
}
