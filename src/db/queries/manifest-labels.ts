/**
 * Manifest labels as Quay stores them (data/model/oci/label.py): a `label` row (source
 * `manifest`, media type text/plain or application/json) linked by `manifestlabel`.
 * Pier writes the one label it acts on, `quay.expires-after`.
 */
import type { Queryable } from "../../core/ports/sql.js";

/** Quay's label key setting a pushed tag's expiry. */
export const EXPIRES_AFTER = "quay.expires-after";

/** Adds a manifest-sourced label to the manifest. */
export async function insertManifestLabel(
  sql: Queryable,
  repositoryId: number,
  manifestId: number,
  key: string,
  value: string,
): Promise<void> {
  const mediaType = isJson(value) ? "application/json" : "text/plain";
  await sql.query(
    `WITH l AS (
       INSERT INTO label (uuid, key, value, media_type_id, source_type_id)
       SELECT $3, $4, $5, mt.id, st.id FROM mediatype mt, labelsourcetype st WHERE mt.name = $6 AND st.name = 'manifest'
       RETURNING id)
     INSERT INTO manifestlabel (repository_id, manifest_id, label_id) SELECT $1, $2, l.id FROM l`,
    [repositoryId, manifestId, crypto.randomUUID(), key, value, mediaType],
  );
}

/** Quay's is_json: the value parses as a JSON object or array. */
function isJson(value: string): boolean {
  const text = value.trim();
  if (!text.startsWith("{") && !text.startsWith("[")) return false;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * The `quay.expires-after` value that applies to a manifest: its own label, or for a
 * list the value all of its children carry (null when any child lacks it or they differ).
 */
export async function findExpiresAfter(sql: Queryable, manifestId: number): Promise<string | null> {
  const { rows } = await sql.query<{ value: string | null }>(
    `WITH targets AS (
       SELECT child_manifest_id AS id FROM manifestchild WHERE manifest_id = $1
       UNION ALL SELECT $1 WHERE NOT EXISTS (SELECT 1 FROM manifestchild WHERE manifest_id = $1))
     SELECT (SELECT l.value FROM manifestlabel ml JOIN label l ON l.id = ml.label_id
             WHERE ml.manifest_id = t.id AND l.key = $2 ORDER BY l.id DESC LIMIT 1) AS value
     FROM targets t`,
    [manifestId, EXPIRES_AFTER],
  );
  const values = new Set(rows.map((r) => r.value));
  const [only] = values;
  return values.size === 1 && only !== undefined ? only : null;
}

/** Where a storage's bytes live: Quay's uuid and whether the key is content-addressed. */
export async function findStorageObject(sql: Queryable, storageId: number): Promise<{ uuid: string; cas_path: boolean } | null> {
  const { rows } = await sql.query<{ uuid: string; cas_path: boolean }>(`SELECT uuid, cas_path FROM imagestorage WHERE id = $1`, [
    storageId,
  ]);
  return rows[0] ?? null;
}
