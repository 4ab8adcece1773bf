/**
 * Writing manifests and tags as Quay does (data/model/oci/manifest.py, tag.py): a
 * manifest row per repository and digest with its manifestblob / manifestchild links
 * and a pending security status; tags moved by ending the alive row and starting a new
 * one, serialized per tag name with an advisory lock.
 */
import type { Queryable } from "../../core/ports/sql.js";
import { intArray, textArray } from "./arrays.js";

/** Blobs of `digests` linked to the repository (uploadedblob or manifestblob) and placed: digest → storage. */
export async function findRepositoryStorages(
  sql: Queryable,
  repositoryId: number,
  digests: readonly string[],
): Promise<Map<string, { id: number; size: number | null }>> {
  if (digests.length === 0) return new Map();
  const { rows } = await sql.query<{ digest: string; id: number; size: string | null }>(
    `SELECT DISTINCT ON (s.content_checksum) s.content_checksum AS digest, s.id, s.image_size::text AS size
     FROM imagestorage s
     WHERE s.content_checksum = ANY($2::varchar[])
       AND (EXISTS (SELECT 1 FROM uploadedblob ub WHERE ub.blob_id = s.id AND ub.repository_id = $1)
         OR EXISTS (SELECT 1 FROM manifestblob mb WHERE mb.blob_id = s.id AND mb.repository_id = $1))
       AND EXISTS (SELECT 1 FROM imagestorageplacement p WHERE p.storage_id = s.id)
     ORDER BY s.content_checksum, s.id`,
    [repositoryId, textArray(digests)],
  );
  return new Map(rows.map((r) => [r.digest, { id: r.id, size: r.size === null ? null : Number(r.size) }]));
}

/** Manifests of the repository among `digests`: digest → id and stored byte length. */
export async function findRepositoryManifests(
  sql: Queryable,
  repositoryId: number,
  digests: readonly string[],
): Promise<Map<string, { id: number; size: number }>> {
  if (digests.length === 0) return new Map();
  const { rows } = await sql.query<{ digest: string; id: number; size: number }>(
    `SELECT digest, id, octet_length(manifest_bytes) AS size FROM manifest WHERE repository_id = $1 AND digest = ANY($2::varchar[])`,
    [repositoryId, textArray(digests)],
  );
  return new Map(rows.map((r) => [r.digest, { id: r.id, size: r.size }]));
}

export interface NewManifest {
  repositoryId: number;
  digest: string;
  mediaType: string;
  text: string;
  configMediaType: string | null;
  layersCompressedSize: number | null;
  subject: string | null;
  artifactType: string | null;
}

/** Inserts the manifest unless the repository has it; returns its id and whether it is new. */
export async function insertManifest(sql: Queryable, manifest: NewManifest): Promise<{ id: number; created: boolean }> {
  const inserted = await sql.query<{ id: number }>(
    `INSERT INTO manifest (repository_id, digest, media_type_id, manifest_bytes, config_media_type, layers_compressed_size,
       subject, subject_backfilled, artifact_type, artifact_type_backfilled)
     SELECT $1, $2, mt.id, $3, $4, $5, $6, true, $7, true FROM mediatype mt WHERE mt.name = $8
     ON CONFLICT (repository_id, digest) DO NOTHING
     RETURNING id`,
    [
      manifest.repositoryId,
      manifest.digest,
      manifest.text,
      manifest.configMediaType,
      manifest.layersCompressedSize,
      manifest.subject,
      manifest.artifactType,
      manifest.mediaType,
    ],
  );
  if (inserted.rows[0]) return { id: inserted.rows[0].id, created: true };
  const { rows } = await sql.query<{ id: number }>(`SELECT id FROM manifest WHERE repository_id = $1 AND digest = $2`, [
    manifest.repositoryId,
    manifest.digest,
  ]);
  return { id: rows[0]!.id, created: false };
}

/** The links and the pending scan status Quay creates with every new manifest. */
export async function linkManifest(
  sql: Queryable,
  repositoryId: number,
  manifestId: number,
  storageIds: readonly number[],
  childIds: readonly number[],
  now: Date,
): Promise<void> {
  if (storageIds.length > 0) {
    await sql.query(
      `INSERT INTO manifestblob (repository_id, manifest_id, blob_id) SELECT $1, $2, unnest($3::int[]) ON CONFLICT DO NOTHING`,
      [repositoryId, manifestId, intArray([...new Set(storageIds)])],
    );
  }
  if (childIds.length > 0) {
    await sql.query(
      `INSERT INTO manifestchild (repository_id, manifest_id, child_manifest_id) SELECT $1, $2, unnest($3::int[]) ON CONFLICT DO NOTHING`,
      [repositoryId, manifestId, intArray([...new Set(childIds)])],
    );
  }
  await sql.query(
    `INSERT INTO manifestsecuritystatus (manifest_id, repository_id, index_status, error_json, last_indexed, indexer_hash, indexer_version, metadata_json)
     VALUES ($1, $2, 0, '{}', $3, '', 4, '{}') ON CONFLICT (manifest_id) DO NOTHING`,
    [manifestId, repositoryId, now],
  );
}

/** Serializes writes to one tag name of a repository until the transaction ends. */
async function lockTag(sql: Queryable, repositoryId: number, name: string): Promise<void> {
  await sql.query(`SELECT pg_advisory_xact_lock($1, hashtext($2))`, [repositoryId, name]);
}

export interface AliveTag {
  id: number;
  manifest_id: number;
  immutable: boolean;
}

async function aliveTag(sql: Queryable, repositoryId: number, name: string, nowMs: number): Promise<AliveTag | null> {
  const { rows } = await sql.query<AliveTag>(
    `SELECT id, manifest_id, immutable FROM tag
     WHERE repository_id = $1 AND name = $2 AND (lifetime_end_ms IS NULL OR lifetime_end_ms > $3)
     ORDER BY lifetime_start_ms DESC`,
    [repositoryId, name, nowMs],
  );
  return rows[0] ?? null;
}

/**
 * Ends a tag row at `nowMs`, or at the latest earlier instant no other row of that
 * name ended at: the unique (repository, name, lifetime_end_ms) index allows one row
 * per end instant, and several pushes can land in one millisecond.
 */
async function endTagRow(sql: Queryable, tagId: number, repositoryId: number, name: string, nowMs: number): Promise<void> {
  await sql.query(
    `WITH ended AS (SELECT lifetime_end_ms AS e FROM tag WHERE repository_id = $2 AND name = $3 AND lifetime_end_ms IS NOT NULL)
     UPDATE tag SET lifetime_end_ms = (
       SELECT max(c) FROM (SELECT $4::bigint AS c UNION ALL SELECT e - 1 FROM ended WHERE e <= $4::bigint) candidates
       WHERE c NOT IN (SELECT e FROM ended))
     WHERE id = $1`,
    [tagId, repositoryId, name, nowMs],
  );
}

export type TagOutcome = { kind: "created" } | { kind: "moved"; previousManifestId: number } | { kind: "immutable" };

/** Points tag `name` at the manifest: the alive row (if any) ends, a new one starts now. */
export async function retargetTag(
  sql: Queryable,
  repositoryId: number,
  name: string,
  manifestId: number,
  nowMs: number,
  options: { hidden?: boolean; endMs?: number | null } = {},
): Promise<TagOutcome> {
  await lockTag(sql, repositoryId, name);
  const current = await aliveTag(sql, repositoryId, name, nowMs);
  if (current?.immutable) return { kind: "immutable" };
  if (current) await endTagRow(sql, current.id, repositoryId, name, nowMs);
  await sql.query(
    `INSERT INTO tag (name, repository_id, manifest_id, lifetime_start_ms, lifetime_end_ms, immutable, hidden, reversion, tag_kind_id)
     SELECT $1, $2, $3, $4, $5, false, $6, false, k.id FROM tagkind k WHERE k.name = 'tag'`,
    [name, repositoryId, manifestId, nowMs, options.endMs ?? null, options.hidden ?? false],
  );
  return current ? { kind: "moved", previousManifestId: current.manifest_id } : { kind: "created" };
}

/** Ends the alive tag `name`; its manifest id, "immutable", or null when there is none. */
export async function endTag(
  sql: Queryable,
  repositoryId: number,
  name: string,
  nowMs: number,
): Promise<{ manifestId: number } | "immutable" | null> {
  await lockTag(sql, repositoryId, name);
  const current = await aliveTag(sql, repositoryId, name, nowMs);
  if (current === null) return null;
  if (current.immutable) return "immutable";
  await endTagRow(sql, current.id, repositoryId, name, nowMs);
  return { manifestId: current.manifest_id };
}

/** Names of the alive tags (hidden ones too) on a manifest. */
export async function aliveTagNames(sql: Queryable, manifestId: number, nowMs: number): Promise<{ name: string; hidden: boolean }[]> {
  const { rows } = await sql.query<{ name: string; hidden: boolean }>(
    `SELECT name, hidden FROM tag WHERE manifest_id = $1 AND (lifetime_end_ms IS NULL OR lifetime_end_ms > $2) ORDER BY name`,
    [manifestId, nowMs],
  );
  return rows;
}

export async function findManifestDigest(sql: Queryable, manifestId: number): Promise<string | null> {
  const { rows } = await sql.query<{ digest: string }>(`SELECT digest FROM manifest WHERE id = $1`, [manifestId]);
  return rows[0]?.digest ?? null;
}
