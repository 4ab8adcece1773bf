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
  id: number;
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
 * Locks the manifests (in id order) and returns those no tag row (alive or expired,
 * hidden included), parent index or referrer in their repository uses, with what they
 * link to. The lock conflicts with the key-share lock every tag insert and manifest PUT
 * takes, so a use being written is seen here or blocks the delete. A manifest used by
 * another one of the same group stays for a later group (its user is deleted first).
 */
export async function lockUnusedManifests(tx: Queryable, ids: readonly number[]): Promise<CollectedManifest[]> {
  const { rows } = await tx.query<{ id: number; digest: string; repository_id: number; namespace_id: number; repository: string }>(
    `SELECT m.id, m.digest, m.repository_id, r.namespace_user_id AS namespace_id, n.username || '/' || r.name AS repository
     FROM manifest m JOIN repository r ON r.id = m.repository_id JOIN "user" n ON n.id = r.namespace_user_id
     WHERE m.id = ANY($1::int[]) ORDER BY m.id FOR UPDATE OF m`,
    [intArray(ids)],
  );
  if (rows.length === 0) return [];
  const unused = await tx.query<{ id: number }>(
    `SELECT m.id FROM manifest m WHERE m.id = ANY($1::int[])
       AND NOT EXISTS (SELECT 1 FROM tag t WHERE t.manifest_id = m.id)
       AND NOT EXISTS (SELECT 1 FROM manifestchild c WHERE c.child_manifest_id = m.id)
       AND NOT EXISTS (SELECT 1 FROM manifest r WHERE r.repository_id = m.repository_id AND r.subject = m.digest)`,
    [intArray(rows.map((r) => r.id))],
  );
  const free = new Set(unused.rows.map((r) => r.id));
  if (free.size === 0) return [];
  const links = await tx.query<{ manifest_id: number; kind: string; id: number }>(
    `SELECT manifest_id, 'child' AS kind, child_manifest_id AS id FROM manifestchild WHERE manifest_id = ANY($1::int[])
     UNION ALL SELECT m.id, 'subject', s.id FROM manifest m JOIN manifest s ON s.repository_id = m.repository_id AND s.digest = m.subject
       WHERE m.id = ANY($1::int[])
     UNION ALL SELECT manifest_id, 'label', label_id FROM manifestlabel WHERE manifest_id = ANY($1::int[])
     UNION ALL SELECT manifest_id, 'blob', blob_id FROM manifestblob WHERE manifest_id = ANY($1::int[])`,
    [intArray([...free])],
  );
  return rows
    .filter((row) => free.has(row.id))
    .map((row) => {
      const of = (kind: string) => [...new Set(links.rows.filter((l) => l.manifest_id === row.id && l.kind === kind).map((l) => l.id))];
      return {
        id: row.id,
        digest: row.digest,
        repository: row.repository,
        namespaceId: row.namespace_id,
        repositoryId: row.repository_id,
        childIds: of("child"),
        subjectIds: of("subject"),
        labelIds: of("label"),
        storageIds: of("blob"),
      };
    });
}

/** Deletes manifests locked by lockUnusedManifests with every row that hangs off them. */
export async function deleteManifestRows(tx: Queryable, ids: readonly number[]): Promise<void> {
  const list = [intArray(ids)];
  await tx.query(`DELETE FROM manifestlabel WHERE manifest_id = ANY($1::int[])`, list);
  await tx.query(`DELETE FROM manifestchild WHERE manifest_id = ANY($1::int[])`, list);
  await tx.query(`DELETE FROM manifestblob WHERE manifest_id = ANY($1::int[])`, list);
  await tx.query(`DELETE FROM manifestsecuritystatus WHERE manifest_id = ANY($1::int[])`, list);
  // Older Quay databases lack this table.
  if (await tableExists(tx, "manifestpullstatistics")) {
    await tx.query(
      `DELETE FROM manifestpullstatistics s USING manifest m
       WHERE m.id = ANY($1::int[]) AND s.repository_id = m.repository_id AND s.manifest_digest = m.digest`,
      list,
    );
  }
  await tx.query(`DELETE FROM manifest WHERE id = ANY($1::int[])`, list);
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
  id: number;
  digest: string | null;
  size: number | null;
  /** Locations the blob was placed in. */
  locations: string[];
  /**
   * Which object key to delete: none when another storage row still uses it (Quay
   * tolerates duplicate rows per checksum) or there is none.
   */
  objectKeyOf: "cas" | "legacy" | null;
  uuid: string;
}

/**
 * Takes the blobs' digest locks and deletes, of the storage rows, those no manifest and
 * no upload link (any repository, expired or not) references and that are placed: their
 * placements, signatures and the rows. Used rows, placeholders and rows already gone
 * stay. The locks are held until the transaction ends: delete the objects before committing.
 */
export async function deleteOrphanedStorages(tx: Queryable, ids: readonly number[]): Promise<CollectedStorage[]> {
  const found = await tx.query<{ digest: string | null }>(`SELECT content_checksum AS digest FROM imagestorage WHERE id = ANY($1::int[])`, [
    intArray(ids),
  ]);
  await lockBlobDigests(
    tx,
    found.rows.flatMap((r) => (r.digest === null ? [] : [r.digest])),
  );
  const { rows } = await tx.query<{ id: number; digest: string | null; uuid: string; cas_path: boolean; size: string | null }>(
    `SELECT s.id, s.content_checksum AS digest, s.uuid, s.cas_path, s.image_size::text AS size FROM imagestorage s
     WHERE s.id = ANY($1::int[])
       AND NOT EXISTS (SELECT 1 FROM manifestblob mb WHERE mb.blob_id = s.id)
       AND NOT EXISTS (SELECT 1 FROM uploadedblob ub WHERE ub.blob_id = s.id)
       AND EXISTS (SELECT 1 FROM imagestorageplacement p WHERE p.storage_id = s.id)
     ORDER BY s.id FOR UPDATE`,
    [intArray(ids)],
  );
  if (rows.length === 0) return [];
  const orphans = intArray(rows.map((r) => r.id));
  const placements = await tx.query<{ storage_id: number; name: string }>(
    `DELETE FROM imagestorageplacement p USING imagestoragelocation l
     WHERE p.storage_id = ANY($1::int[]) AND l.id = p.location_id RETURNING p.storage_id, l.name`,
    [orphans],
  );
  await tx.query(`DELETE FROM imagestoragesignature WHERE storage_id = ANY($1::int[])`, [orphans]);
  await tx.query(`DELETE FROM imagestorage WHERE id = ANY($1::int[])`, [orphans]);
  const shared = await tx.query<{ digest: string }>(
    `SELECT DISTINCT content_checksum AS digest FROM imagestorage WHERE content_checksum = ANY($1::varchar[]) AND cas_path`,
    [textArray(rows.flatMap((r) => (r.digest === null ? [] : [r.digest])))],
  );
  const stillUsed = new Set(shared.rows.map((r) => r.digest));
  const claimed = new Set<string>();
  return rows.map((row) => {
    let objectKeyOf: CollectedStorage["objectKeyOf"] = row.cas_path ? "cas" : "legacy";
    // One object per checksum: the first row of a duplicate set deletes it.
    if (row.cas_path && (row.digest === null || stillUsed.has(row.digest) || claimed.has(row.digest))) objectKeyOf = null;
    if (row.cas_path && row.digest !== null) claimed.add(row.digest);
    return {
      id: row.id,
      digest: row.digest,
      size: row.size === null ? null : Number(row.size),
      locations: placements.rows.filter((p) => p.storage_id === row.id).map((p) => p.name),
      objectKeyOf,
      uuid: row.uuid,
    };
  });
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
