/**
 * What the proxy cache reads and writes besides the push path's rows: the newest row of a
 * tag whatever its liveness (Quay's get_current_tag), renewals in place, placeholder blobs
 * and child manifests (Quay's proxy rows: an imagestorage without placement, a manifest
 * with manifest_bytes = ""), and blob membership that counts placeholders.
 */
import type { Queryable } from "../../core/ports/sql.js";
import { lockBlobDigests } from "./uploads.js";

export interface CurrentTagRow {
  tag_id: number;
  manifest_id: number;
  digest: string;
  media_type: string;
  manifest_bytes: string;
  /** ms as text; null when it never ends. */
  lifetime_end_ms: string | null;
  /** The namespace's time-machine window (removed_tag_expiration_s), as text. */
  window_s: string;
}

/** The newest visible row of tag `name` (Quay: highest lifetime_end_ms, alive or not), with its manifest. */
export async function findCurrentTag(sql: Queryable, repositoryId: number, name: string): Promise<CurrentTagRow | null> {
  const { rows } = await sql.query<CurrentTagRow>(
    `SELECT t.id AS tag_id, m.id AS manifest_id, m.digest, mt.name AS media_type, m.manifest_bytes,
            t.lifetime_end_ms::text AS lifetime_end_ms, u.removed_tag_expiration_s::text AS window_s
     FROM tag t
     JOIN manifest m ON m.id = t.manifest_id
     JOIN mediatype mt ON mt.id = m.media_type_id
     JOIN repository r ON r.id = t.repository_id
     JOIN "user" u ON u.id = r.namespace_user_id
     WHERE t.repository_id = $1 AND t.name = $2 AND t.hidden = false
     ORDER BY t.lifetime_end_ms DESC NULLS FIRST, t.id DESC
     LIMIT 1`,
    [repositoryId, name],
  );
  return rows[0] ?? null;
}

/**
 * Quay's renewal: the tag row `tagId` ends `lifetimeMs` from `nowMs` again (null: never),
 * revived in place when it had expired. Only while it is still the newest row of its
 * name (a push or fill may have moved the tag meanwhile); false otherwise.
 */
export async function renewTag(sql: Queryable, repositoryId: number, name: string, tagId: number, endMs: number | null): Promise<boolean> {
  await sql.query(`SELECT pg_advisory_xact_lock($1, hashtext($2))`, [repositoryId, name]);
  const { rowCount } = await sql.query(
    `UPDATE tag SET lifetime_end_ms = $3
     WHERE id = $1 AND NOT EXISTS (
       SELECT 1 FROM tag o WHERE o.repository_id = $2 AND o.name = $4 AND o.id <> $1
         AND (o.lifetime_start_ms > tag.lifetime_start_ms))`,
    [tagId, repositoryId, endMs, name],
  );
  return rowCount === 1;
}

export interface StoredManifestRow {
  id: number;
  digest: string;
  media_type: string;
  manifest_bytes: string;
}

/** The repository's manifest `digest`, placeholder or not. */
export async function findManifestRow(sql: Queryable, repositoryId: number, digest: string): Promise<StoredManifestRow | null> {
  const { rows } = await sql.query<StoredManifestRow>(
    `SELECT m.id, m.digest, mt.name AS media_type, m.manifest_bytes
     FROM manifest m JOIN mediatype mt ON mt.id = m.media_type_id
     WHERE m.repository_id = $1 AND m.digest = $2`,
    [repositoryId, digest],
  );
  return rows[0] ?? null;
}

/** Fills a placeholder manifest's bytes (Quay: a child of a cached list, first pulled by digest). */
export async function fillPlaceholderManifest(
  sql: Queryable,
  manifestId: number,
  text: string,
  fields: { configMediaType: string | null; layersCompressedSize: number | null; subject: string | null; artifactType: string | null },
): Promise<boolean> {
  const { rowCount } = await sql.query(
    `UPDATE manifest SET manifest_bytes = $2, config_media_type = $3, layers_compressed_size = $4, subject = $5, artifact_type = $6
     WHERE id = $1 AND manifest_bytes = ''`,
    [manifestId, text, fields.configMediaType, fields.layersCompressedSize, fields.subject, fields.artifactType],
  );
  return rowCount === 1;
}

/**
 * Storage ids for the blobs, reusing any storage row of the same checksum (placed or a
 * placeholder) and creating placeholders — no placement, as Quay's proxy does — for the
 * rest. Serialized per digest with the lock blob commits take.
 */
export async function ensureStorages(sql: Queryable, blobs: readonly { digest: string; size: number }[]): Promise<number[]> {
  const ids: number[] = [];
  await lockBlobDigests(
    sql,
    blobs.map((b) => b.digest),
  );
  for (const blob of blobs) {
    const { rows } = await sql.query<{ id: number }>(
      `SELECT id FROM imagestorage WHERE content_checksum = $1 AND cas_path = true ORDER BY id LIMIT 1`,
      [blob.digest],
    );
    if (rows[0]) {
      ids.push(rows[0].id);
      continue;
    }
    const inserted = await sql.query<{ id: number }>(
      `INSERT INTO imagestorage (uuid, image_size, uncompressed_size, uploading, cas_path, content_checksum)
       VALUES ($1, $2, NULL, false, true, $3) RETURNING id`,
      [crypto.randomUUID(), blob.size, blob.digest],
    );
    ids.push(inserted.rows[0]!.id);
  }
  return ids;
}

export interface ProxyBlobRow {
  size: string | null;
  placed: boolean;
}

/** Blob `digest` as a manifest of the repository references it (Quay's proxy membership rule), placed or not. */
export async function findManifestBlob(sql: Queryable, repositoryId: number, digest: string): Promise<ProxyBlobRow | null> {
  const { rows } = await sql.query<ProxyBlobRow>(
    `SELECT s.image_size::text AS size, EXISTS (SELECT 1 FROM imagestorageplacement p WHERE p.storage_id = s.id) AS placed
     FROM imagestorage s
     WHERE s.content_checksum = $2 AND EXISTS (SELECT 1 FROM manifestblob mb WHERE mb.blob_id = s.id AND mb.repository_id = $1)
     ORDER BY placed DESC, s.id LIMIT 1`,
    [repositoryId, digest],
  );
  return rows[0] ?? null;
}
