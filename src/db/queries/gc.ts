/**
 * Garbage collection in Quay's tables (data/model/gc.py): tags past their namespace's
 * time-machine window, then manifests nothing uses any more with their links, then
 * labels, then storage rows no manifest or upload link references. Every delete
 * re-checks its condition under a lock, so a push, restore or mount racing it wins.
 */
import type { Queryable } from "../../core/ports/sql.js";
import { intArray, textArray } from "./arrays.js";
import { tableExists } from "./optional-tables.js";
import { lockBlobDigests } from "./uploads.js";

/** Quay's RepositoryState.MARKED_FOR_DELETION: purge, not GC, handles those. */
const MARKED_FOR_DELETION = 3;

/** A tag is past the time machine when it ended more than its namespace's window ago. */
const PAST_TIME_MACHINE = `t.lifetime_end_ms IS NOT NULL AND t.lifetime_end_ms <= $1::bigint - n.removed_tag_expiration_s::bigint * 1000`;

export interface ExpiredTag {
  id: number;
  name: string;
  repository: string;
}

/** Tags past the time machine in enabled namespaces (immutable ones stay, as Quay keeps them). */
export async function findExpiredTags(sql: Queryable, nowMs: number, limit: number): Promise<ExpiredTag[]> {
  const { rows } = await sql.query<ExpiredTag>(
    `SELECT t.id, t.name, n.username || '/' || r.name AS repository
     FROM tag t JOIN repository r ON r.id = t.repository_id JOIN "user" n ON n.id = r.namespace_user_id
     WHERE ${PAST_TIME_MACHINE} AND NOT t.immutable AND r.state <> ${MARKED_FOR_DELETION} AND n.enabled
     ORDER BY t.lifetime_end_ms, t.id LIMIT $2`,
    [nowMs, limit],
  );
  return rows;
}

/**
 * Deletes the tags that are still past the time machine once locked (a restore moves a
 * tag's end), with their notification rows, and the pull statistics of names left with
 * no row; returns the manifest ids they pointed at.
 */
export async function deleteExpiredTags(
  tx: Queryable,
  ids: readonly number[],
  nowMs: number,
): Promise<{ id: number; manifestId: number }[]> {
  const { rows } = await tx.query<{ id: number; manifest_id: number }>(
    `SELECT t.id, t.manifest_id FROM tag t JOIN repository r ON r.id = t.repository_id JOIN "user" n ON n.id = r.namespace_user_id
     WHERE t.id = ANY($2::int[]) AND ${PAST_TIME_MACHINE} AND NOT t.immutable ORDER BY t.id FOR UPDATE OF t`,
    [nowMs, intArray(ids)],
  );
  if (rows.length === 0) return [];
  const locked = intArray(rows.map((r) => r.id));
  // Older Quay databases lack this table.
  if (await tableExists(tx, "tagnotificationsuccess"))
    await tx.query(`DELETE FROM tagnotificationsuccess WHERE tag_id = ANY($1::int[])`, [locked]);
  await tx.query(`UPDATE tag SET linked_tag_id = NULL WHERE linked_tag_id = ANY($1::int[])`, [locked]);
  const deleted = await tx.query<{ repository_id: number; name: string }>(
    `DELETE FROM tag WHERE id = ANY($1::int[]) RETURNING repository_id, name`,
    [locked],
  );
  await tx.query(
    `DELETE FROM tagpullstatistics s USING unnest($1::int[], $2::text[]) AS gone(repository_id, name)
     WHERE s.repository_id = gone.repository_id AND s.tag_name = gone.name
       AND NOT EXISTS (SELECT 1 FROM tag t WHERE t.repository_id = gone.repository_id AND t.name = gone.name)`,
    [intArray(deleted.rows.map((r) => r.repository_id)), textArray(deleted.rows.map((r) => r.name))],
  );
  return rows.map((r) => ({ id: r.id, manifestId: r.manifest_id }));
}

/** Deletes up to `limit` upload links past their expiry; the storage ids they held. */
export async function deleteExpiredUploadLinks(sql: Queryable, now: Date, limit: number): Promise<number[]> {
  const { rows } = await sql.query<{ blob_id: number }>(
    `DELETE FROM uploadedblob WHERE id IN (SELECT id FROM uploadedblob WHERE expires_at <= $1 ORDER BY expires_at, id LIMIT $2)
     RETURNING blob_id`,
    [now, limit],
  );
  return rows.map((r) => r.blob_id);
}

export interface CollectedManifest {
  digest: string;
  repository: string;
  namespaceId: number;
  repositoryId: number;
  /** What its removal may leave unused: candidates for the next steps. */
  childIds: number[];
  /** The manifest it refers to (a referrer keeps its subject alive). */
  subjectIds: number[];
  labelIds: number[];
  storageIds: number[];
}

/**
 * Locks the manifest and, when no tag row (alive or expired, hidden included), parent
 * index or referrer in its repository uses it, reports what it links to; null when it
 * is used or gone. The lock conflicts with the key-share lock every tag insert and
 * manifest PUT takes, so a use being written is seen here or blocks the delete.
 */
export async function lockUnusedManifest(tx: Queryable, manifestId: number): Promise<CollectedManifest | null> {
  const { rows } = await tx.query<{ digest: string; repository_id: number; namespace_id: number; repository: string }>(
    `SELECT m.digest, m.repository_id, r.namespace_user_id AS namespace_id, n.username || '/' || r.name AS repository
     FROM manifest m JOIN repository r ON r.id = m.repository_id JOIN "user" n ON n.id = r.namespace_user_id
     WHERE m.id = $1 FOR UPDATE OF m`,
    [manifestId],
  );
  const manifest = rows[0];
  if (!manifest) return null;
  const used = await tx.query<{ used: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM tag WHERE manifest_id = $1)
         OR EXISTS (SELECT 1 FROM manifestchild WHERE child_manifest_id = $1)
         OR EXISTS (SELECT 1 FROM manifest WHERE repository_id = $2 AND subject = $3) AS used`,
    [manifestId, manifest.repository_id, manifest.digest],
  );
  if (used.rows[0]!.used) return null;
  const links = await tx.query<{ kind: string; id: number }>(
    `SELECT 'child' AS kind, child_manifest_id AS id FROM manifestchild WHERE manifest_id = $1
     UNION ALL SELECT 'subject', s.id FROM manifest m JOIN manifest s ON s.repository_id = m.repository_id AND s.digest = m.subject WHERE m.id = $1
     UNION ALL SELECT 'label', label_id FROM manifestlabel WHERE manifest_id = $1
     UNION ALL SELECT 'blob', blob_id FROM manifestblob WHERE manifest_id = $1`,
    [manifestId],
  );
  const of = (kind: string) => [...new Set(links.rows.filter((l) => l.kind === kind).map((l) => l.id))];
  return {
    digest: manifest.digest,
    repository: manifest.repository,
    namespaceId: manifest.namespace_id,
    repositoryId: manifest.repository_id,
    childIds: of("child"),
    subjectIds: of("subject"),
    labelIds: of("label"),
    storageIds: of("blob"),
  };
}

/** Deletes a manifest locked by lockUnusedManifest with every row that hangs off it. */
export async function deleteManifestRows(tx: Queryable, manifestId: number, manifest: CollectedManifest): Promise<void> {
  await tx.query(`DELETE FROM manifestlabel WHERE manifest_id = $1`, [manifestId]);
  await tx.query(`DELETE FROM manifestchild WHERE manifest_id = $1`, [manifestId]);
  await tx.query(`DELETE FROM manifestblob WHERE manifest_id = $1`, [manifestId]);
  await tx.query(`DELETE FROM manifestsecuritystatus WHERE manifest_id = $1`, [manifestId]);
  await tx.query(`DELETE FROM manifestpullstatistics WHERE repository_id = $1 AND manifest_digest = $2`, [
    manifest.repositoryId,
    manifest.digest,
  ]);
  await tx.query(`DELETE FROM manifest WHERE id = $1`, [manifestId]);
}

/** Deletes the labels among `ids` that no manifest carries any more; how many. */
export async function deleteUnusedLabels(sql: Queryable, ids: readonly number[]): Promise<number> {
  if (ids.length === 0) return 0;
  const { rowCount } = await sql.query(
    `DELETE FROM label l WHERE l.id = ANY($1::int[]) AND NOT EXISTS (SELECT 1 FROM manifestlabel ml WHERE ml.label_id = l.id)`,
    [intArray(ids)],
  );
  return rowCount;
}

export interface CollectedStorage {
  digest: string | null;
  size: number | null;
  /** Locations the blob was placed in. */
  locations: string[];
  /**
   * The object key to delete, or null when another storage row still uses it (Quay
   * tolerates duplicate rows per checksum) or there is none.
   */
  objectKeyOf: "cas" | "legacy" | null;
  uuid: string;
}

/**
 * Takes the blob's digest lock and, when no manifest and no upload link (any repository,
 * expired or not) references the storage row and it is placed, deletes its placements,
 * signatures and the row; null when it is still used, a placeholder or gone. The lock
 * is held until the transaction ends: delete the object before committing.
 */
export async function deleteOrphanedStorage(tx: Queryable, storageId: number): Promise<CollectedStorage | null> {
  const found = await tx.query<{ digest: string | null }>(`SELECT content_checksum AS digest FROM imagestorage WHERE id = $1`, [storageId]);
  if (!found.rows[0]) return null;
  const digest = found.rows[0].digest;
  if (digest !== null) await lockBlobDigests(tx, [digest]);
  const { rows } = await tx.query<{ uuid: string; cas_path: boolean; size: string | null }>(
    `SELECT s.uuid, s.cas_path, s.image_size::text AS size FROM imagestorage s
     WHERE s.id = $1
       AND NOT EXISTS (SELECT 1 FROM manifestblob mb WHERE mb.blob_id = s.id)
       AND NOT EXISTS (SELECT 1 FROM uploadedblob ub WHERE ub.blob_id = s.id)
       AND EXISTS (SELECT 1 FROM imagestorageplacement p WHERE p.storage_id = s.id)
     FOR UPDATE`,
    [storageId],
  );
  const storage = rows[0];
  if (!storage) return null;
  const placements = await tx.query<{ name: string }>(
    `DELETE FROM imagestorageplacement p USING imagestoragelocation l WHERE p.storage_id = $1 AND l.id = p.location_id RETURNING l.name`,
    [storageId],
  );
  await tx.query(`DELETE FROM imagestoragesignature WHERE storage_id = $1`, [storageId]);
  await tx.query(`DELETE FROM imagestorage WHERE id = $1`, [storageId]);
  let objectKeyOf: CollectedStorage["objectKeyOf"] = storage.cas_path ? "cas" : "legacy";
  if (storage.cas_path) {
    const shared = await tx.query<{ shared: boolean }>(
      `SELECT $1::varchar IS NULL OR EXISTS (SELECT 1 FROM imagestorage WHERE content_checksum = $1 AND cas_path) AS shared`,
      [digest],
    );
    if (shared.rows[0]!.shared) objectKeyOf = null;
  }
  return {
    digest,
    size: storage.size === null ? null : Number(storage.size),
    locations: placements.rows.map((p) => p.name),
    objectKeyOf,
    uuid: storage.uuid,
  };
}

/** The last id of the page of `size` rows of `table` after `afterId`; null past the end. */
export async function pageEnd(sql: Queryable, table: "imagestorage" | "manifest", afterId: number, size: number): Promise<number | null> {
  const { rows } = await sql.query<{ id: number | null }>(
    `SELECT max(id) AS id FROM (SELECT id FROM ${table} WHERE id > $1 ORDER BY id LIMIT $2) page`,
    [afterId, size],
  );
  return rows[0]?.id ?? null;
}

/**
 * Manifests in (afterId, lastId] with no tag row at all: a tag removed outright (a
 * delete in the instant of its push), a crash, or Quay left them where no expired tag
 * leads GC. lockUnusedManifest decides.
 */
export async function findUntaggedManifests(sql: Queryable, afterId: number, lastId: number): Promise<number[]> {
  const { rows } = await sql.query<{ id: number }>(
    `SELECT m.id FROM manifest m JOIN repository r ON r.id = m.repository_id
     WHERE m.id > $1 AND m.id <= $2 AND r.state <> ${MARKED_FOR_DELETION}
       AND NOT EXISTS (SELECT 1 FROM tag t WHERE t.manifest_id = m.id)
     ORDER BY m.id`,
    [afterId, lastId],
  );
  return rows.map((r) => r.id);
}

/** Placed storage rows in (afterId, lastId] that nothing references: the sweep behind GC's own candidates. */
export async function findOrphanedStorages(sql: Queryable, afterId: number, lastId: number): Promise<number[]> {
  const { rows } = await sql.query<{ id: number }>(
    `SELECT s.id FROM imagestorage s
     WHERE s.id > $1 AND s.id <= $2
       AND NOT EXISTS (SELECT 1 FROM manifestblob mb WHERE mb.blob_id = s.id)
       AND NOT EXISTS (SELECT 1 FROM uploadedblob ub WHERE ub.blob_id = s.id)
       AND EXISTS (SELECT 1 FROM imagestorageplacement p WHERE p.storage_id = s.id)
     ORDER BY s.id`,
    [afterId, lastId],
  );
  return rows.map((r) => r.id);
}
