/**
 * Blob upload sessions and stored blobs in Quay's tables: `blobupload` for sessions
 * (chunks listed in storage_metadata as Quay's cloud storages do), `imagestorage` +
 * `imagestorageplacement` for blobs, `uploadedblob` for the repository link that keeps
 * a fresh blob out of GC until a manifest references it (data/model/blob.py).
 */
import type { Queryable } from "../../core/ports/sql.js";
import { textArray } from "./arrays.js";

export interface BlobUploadRow {
  id: number;
  uuid: string;
  /** bigint as text */
  byte_count: string;
  chunk_count: number;
  storage_metadata: string | null;
}

export async function insertBlobUpload(
  sql: Queryable,
  repositoryId: number,
  uuid: string,
  location: string,
  now: Date,
  storageMetadata: string,
): Promise<void> {
  await sql.query(
    `INSERT INTO blobupload (repository_id, uuid, byte_count, location_id, storage_metadata, chunk_count, created)
     SELECT $1, $2, 0, l.id, $5, 0, $3 FROM imagestoragelocation l WHERE l.name = $4`,
    [repositoryId, uuid, now, location, storageMetadata],
  );
}

/** A session of this repository (the repository is checked, unlike Quay's lookup by uuid alone). */
export async function findBlobUpload(sql: Queryable, repositoryId: number, uuid: string): Promise<BlobUploadRow | null> {
  const { rows } = await sql.query<BlobUploadRow>(
    `SELECT id, uuid, byte_count::text AS byte_count, chunk_count, storage_metadata FROM blobupload WHERE repository_id = $1 AND uuid = $2`,
    [repositoryId, uuid],
  );
  return rows[0] ?? null;
}

/** Records a written chunk, only if no other request moved the session meanwhile; false when one did. */
export async function recordChunk(sql: Queryable, upload: BlobUploadRow, byteCount: number, metadata: string): Promise<boolean> {
  const { rowCount } = await sql.query(
    `UPDATE blobupload SET byte_count = $3, chunk_count = chunk_count + 1, storage_metadata = $4
     WHERE id = $1 AND byte_count = $2`,
    [upload.id, upload.byte_count, byteCount, metadata],
  );
  return rowCount === 1;
}

/** The keys among `keys` that no upload session names, as its own key (Quay's local layout) or as a chunk. */
export async function unreferencedUploadKeys(sql: Queryable, keys: readonly string[]): Promise<string[]> {
  if (keys.length === 0) return [];
  const { rows } = await sql.query<{ key: string }>(
    `SELECT k AS key FROM unnest($1::text[]) AS k
     WHERE NOT EXISTS (SELECT 1 FROM blobupload b WHERE 'uploads/' || b.uuid = k OR strpos(b.storage_metadata, '"' || k || '"') > 0)`,
    [textArray(keys)],
  );
  return rows.map((r) => r.key);
}

/** Removes the session; false when it was already gone (another request finished or cancelled it). */
export async function deleteBlobUpload(sql: Queryable, id: number): Promise<boolean> {
  const { rowCount } = await sql.query(`DELETE FROM blobupload WHERE id = $1`, [id]);
  return rowCount === 1;
}

/**
 * Takes the per-digest locks (until the transaction ends) that serialize everything
 * creating, linking, unlinking or collecting a blob's rows: commits, mounts, manifest
 * PUTs, proxy fills, blob DELETE and GC. Sorted, so two writers never deadlock.
 */
export async function lockBlobDigests(sql: Queryable, digests: readonly string[]): Promise<void> {
  const unique = [...new Set(digests)].sort();
  if (unique.length === 1) {
    await sql.query(`SELECT pg_advisory_xact_lock(hashtext('imagestorage:' || $1))`, [unique[0]!]);
  } else if (unique.length > 1) {
    // A function scan yields the array in order, so the locks are taken in that order.
    await sql.query(`SELECT count(pg_advisory_xact_lock(hashtext('imagestorage:' || d))) FROM unnest($1::text[]) AS d`, [
      textArray(unique),
    ]);
  }
}

/**
 * The storage row for `digest` with a placement in `location`, creating (or placing)
 * it as needed. Quay tolerates duplicate rows per checksum; Pier reuses the oldest.
 */
export async function ensurePlacedStorage(sql: Queryable, digest: string, size: number, location: string): Promise<number> {
  // Concurrent commits of the same blob serialize here, so they share one row.
  await lockBlobDigests(sql, [digest]);
  const existing = await sql.query<{ id: number }>(
    `SELECT id FROM imagestorage WHERE content_checksum = $1 AND cas_path = true ORDER BY id LIMIT 1`,
    [digest],
  );
  let storageId = existing.rows[0]?.id;
  if (storageId === undefined) {
    const inserted = await sql.query<{ id: number }>(
      `INSERT INTO imagestorage (uuid, image_size, uncompressed_size, uploading, cas_path, content_checksum)
       VALUES ($1, $2, NULL, false, true, $3) RETURNING id`,
      [crypto.randomUUID(), size, digest],
    );
    storageId = inserted.rows[0]!.id;
  } else {
    await sql.query(`UPDATE imagestorage SET image_size = $2 WHERE id = $1 AND image_size IS NULL`, [storageId, size]);
  }
  await sql.query(
    `INSERT INTO imagestorageplacement (storage_id, location_id)
     SELECT $1, l.id FROM imagestoragelocation l WHERE l.name = $2
     ON CONFLICT (storage_id, location_id) DO NOTHING`,
    [storageId, location],
  );
  return storageId;
}

/** Links a blob to a repository until a manifest references it (Quay: 1 hour). */
export async function linkUploadedBlob(sql: Queryable, repositoryId: number, storageId: number, now: Date, expiresAt: Date): Promise<void> {
  await sql.query(`INSERT INTO uploadedblob (repository_id, blob_id, uploaded_at, expires_at) VALUES ($1, $2, $3, $4)`, [
    repositoryId,
    storageId,
    now,
    expiresAt,
  ]);
}

/** The storage id of blob `digest` as linked to the repository (Quay's membership rule), if placed. */
export async function findLinkedStorage(
  sql: Queryable,
  repositoryId: number,
  digest: string,
): Promise<{ id: number; size: string | null } | null> {
  const { rows } = await sql.query<{ id: number; size: string | null }>(
    `SELECT s.id, s.image_size::text AS size FROM imagestorage s
     WHERE s.content_checksum = $2
       AND (EXISTS (SELECT 1 FROM uploadedblob ub WHERE ub.blob_id = s.id AND ub.repository_id = $1)
         OR EXISTS (SELECT 1 FROM manifestblob mb WHERE mb.blob_id = s.id AND mb.repository_id = $1))
       AND EXISTS (SELECT 1 FROM imagestorageplacement p WHERE p.storage_id = s.id)
     ORDER BY s.id LIMIT 1`,
    [repositoryId, digest],
  );
  return rows[0] ?? null;
}
