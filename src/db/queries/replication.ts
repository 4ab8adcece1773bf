/**
 * Storage replication rows: Quay's `imagestoragereplication` queue in `queueitem`
 * (queue name `imagestoragereplication/<imagestorage.uuid>/`, body
 * `{"namespace_user_id", "storage_id"}`), the locations a blob must reach (the namespace's
 * `userregion` rows and DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS) and its placements.
 */
import type { Queryable } from "../../core/ports/sql.js";
import { lockBlobDigests } from "./uploads.js";

export const REPLICATION_QUEUE = "imagestoragereplication";

/** Quay's `retries_remaining` of a new item. */
const RETRIES = 5;

function textArray(values: readonly string[]): string {
  return `{${values.map((v) => `"${v.replace(/["\\]/g, "\\$&")}"`).join(",")}}`;
}

/**
 * Locations that storage `s` must reach, as rows `(id, name)`: the default locations
 * (`$REQ`) and the `userregion` rows of the namespaces of repositories linking it
 * (uploadedblob or manifestblob), limited to the configured ones (`$CONF`).
 */
const REQUIRED = `
  SELECT l.id, l.name FROM imagestoragelocation l
  WHERE l.name = ANY($CONF::text[]) AND (l.name = ANY($REQ::text[]) OR l.id IN (
    SELECT ur.location_id FROM userregion ur WHERE ur.user_id IN (
      SELECT r.namespace_user_id FROM repository r WHERE r.id IN (
        SELECT mb.repository_id FROM manifestblob mb WHERE mb.blob_id = s.id
        UNION SELECT ub.repository_id FROM uploadedblob ub WHERE ub.blob_id = s.id))))`;

/** Which locations count: the configured ones, and those every blob must reach. */
export interface ReplicationTargets {
  configured: readonly string[];
  defaults: readonly string[];
}

/** The storages to look at: ids in (after, last], or these ids. */
export type StorageSelection = { after: number; last: number } | { ids: readonly number[] };

/**
 * Queues every selected placed storage that misses a required location and has no queue
 * item yet (alive or dead); how many it queued. Run it in a transaction holding the
 * sweep lock, or two callers may queue one blob twice.
 */
export async function enqueueMissing(sql: Queryable, selection: StorageSelection, targets: ReplicationTargets, now: Date): Promise<number> {
  const range = "ids" in selection ? `s.id = ANY($1::int[]) AND $2::int IS NULL` : `s.id > $1 AND s.id <= $2`;
  const params = "ids" in selection ? [`{${selection.ids.join(",")}}`, null] : [selection.after, selection.last];
  const { rowCount } = await sql.query(
    `INSERT INTO queueitem (queue_name, body, available_after, available, retries_remaining, state_id)
     SELECT '${REPLICATION_QUEUE}/' || s.uuid || '/',
            json_build_object('namespace_user_id', ns.user_id, 'storage_id', s.uuid, 'pier_queued_at_ms', $6::bigint)::text,
            $5, true, ${RETRIES}, gen_random_uuid()::text
     FROM imagestorage s
     LEFT JOIN LATERAL (
       SELECT min(r.namespace_user_id) AS user_id FROM repository r WHERE r.id IN (
         SELECT mb.repository_id FROM manifestblob mb WHERE mb.blob_id = s.id
         UNION SELECT ub.repository_id FROM uploadedblob ub WHERE ub.blob_id = s.id)) ns ON true
     WHERE ${range}
       AND EXISTS (SELECT 1 FROM imagestorageplacement p WHERE p.storage_id = s.id)
       AND EXISTS (SELECT 1 FROM (${REQUIRED.replace("$REQ", "$3").replace("$CONF", "$4")}) req
                   WHERE NOT EXISTS (SELECT 1 FROM imagestorageplacement p WHERE p.storage_id = s.id AND p.location_id = req.id))
       AND NOT EXISTS (SELECT 1 FROM queueitem q WHERE q.queue_name = '${REPLICATION_QUEUE}/' || s.uuid || '/')`,
    [...params, textArray(targets.defaults), textArray(targets.configured), now, now.getTime()],
  );
  return rowCount ?? 0;
}

/** Serializes callers of enqueueMissing until the transaction ends. */
export async function lockReplicationSweep(tx: Queryable): Promise<void> {
  await tx.query(`SELECT pg_advisory_xact_lock(hashtext('pier:replication:sweep'))`);
}

/** The last storage id of the page of `size` ids after `after`; null past the end. */
export async function storagePageEnd(sql: Queryable, after: number, size: number): Promise<number | null> {
  const { rows } = await sql.query<{ last: number | null }>(
    `SELECT max(id) AS last FROM (SELECT id FROM imagestorage WHERE id > $1 ORDER BY id LIMIT $2) page`,
    [after, size],
  );
  return rows[0]?.last ?? null;
}

export interface ReplicationItem {
  id: number;
  stateId: string;
  storageUuid: string | null;
  retriesRemaining: number;
  /** When Pier queued it (its body's `pier_queued_at_ms`; absent in Quay's items). */
  queuedAtMs: number | null;
}

/**
 * Claims up to `limit` available items as Quay's queue does (available, reservation
 * until `expires`, one retry spent, a new state id), skipping rows another runner is
 * claiming. Available: due, and free or its reservation expired, with retries left.
 */
export async function claimReplicationItems(tx: Queryable, now: Date, expires: Date, limit: number): Promise<ReplicationItem[]> {
  const { rows } = await tx.query<{ id: number; state_id: string; body: string; retries_remaining: number }>(
    `UPDATE queueitem q SET available = false, processing_expires = $2, retries_remaining = q.retries_remaining - 1,
            state_id = gen_random_uuid()::text
     WHERE q.id IN (
       SELECT id FROM queueitem
       WHERE queue_name LIKE '${REPLICATION_QUEUE}/%' AND available_after <= $1
         AND (available OR processing_expires <= $1) AND retries_remaining > 0
       ORDER BY available_after, id LIMIT $3 FOR UPDATE SKIP LOCKED)
     RETURNING q.id, q.state_id, q.body, q.retries_remaining`,
    [now, expires, limit],
  );
  return rows.map((row) => {
    let storageUuid: string | null = null;
    let queuedAtMs: number | null = null;
    try {
      const body = JSON.parse(row.body) as { storage_id?: unknown; pier_queued_at_ms?: unknown };
      if (typeof body.storage_id === "string") storageUuid = body.storage_id;
      if (typeof body.pier_queued_at_ms === "number") queuedAtMs = body.pier_queued_at_ms;
    } catch {
      // A malformed body: the job completes it.
    }
    return { id: row.id, stateId: row.state_id, storageUuid, retriesRemaining: row.retries_remaining, queuedAtMs };
  });
}

/** Done (Quay's complete): the item goes, unless another runner took it over since. */
export async function completeItem(sql: Queryable, item: ReplicationItem): Promise<void> {
  await sql.query(`DELETE FROM queueitem WHERE id = $1 AND state_id = $2`, [item.id, item.stateId]);
}

/** Not done: available again at `after` (its spent retry stays spent). */
export async function retryItem(sql: Queryable, item: ReplicationItem, after: Date): Promise<void> {
  await sql.query(
    `UPDATE queueitem SET available = true, available_after = $3, processing_expires = NULL, state_id = gen_random_uuid()::text
     WHERE id = $1 AND state_id = $2`,
    [item.id, item.stateId, after],
  );
}

/** Extends the reservation of a claimed item (a long copy); false when it was lost. */
export async function renewItem(sql: Queryable, item: ReplicationItem, expires: Date): Promise<boolean> {
  const { rowCount } = await sql.query(`UPDATE queueitem SET processing_expires = $3 WHERE id = $1 AND state_id = $2`, [
    item.id,
    item.stateId,
    expires,
  ]);
  return rowCount === 1;
}

export interface ReplicationTarget {
  storageId: number;
  digest: string | null;
  size: number | null;
  casPath: boolean;
  placements: string[];
  required: string[];
}

/** A queued storage with its placements and the locations it must reach; null when the row is gone. */
export async function findReplicationTarget(sql: Queryable, uuid: string, targets: ReplicationTargets): Promise<ReplicationTarget | null> {
  const { rows } = await sql.query<{
    id: number;
    content_checksum: string | null;
    image_size: string | null;
    cas_path: boolean;
    placements: string[] | null;
    required: string[] | null;
  }>(
    `SELECT s.id, s.content_checksum, s.image_size::text AS image_size, s.cas_path,
       (SELECT array_agg(l.name ORDER BY l.name) FROM imagestorageplacement p JOIN imagestoragelocation l ON l.id = p.location_id
        WHERE p.storage_id = s.id) AS placements,
       (SELECT array_agg(req.name ORDER BY req.name) FROM (${REQUIRED.replace("$REQ", "$2").replace("$CONF", "$3")}) req) AS required
     FROM imagestorage s WHERE s.uuid = $1`,
    [uuid, textArray(targets.defaults), textArray(targets.configured)],
  );
  const row = rows[0];
  if (row === undefined) return null;
  return {
    storageId: row.id,
    digest: row.content_checksum,
    size: row.image_size === null ? null : Number(row.image_size),
    casPath: row.cas_path,
    placements: row.placements ?? [],
    required: row.required ?? [],
  };
}

/**
 * Records a verified copy at `location`, under the blob's digest lock (GC deletes rows
 * and objects under it): false when the storage was collected meanwhile, so the caller
 * removes the copy.
 */
export async function recordPlacement(tx: Queryable, storageId: number, digest: string, location: string): Promise<boolean> {
  await lockBlobDigests(tx, [digest]);
  const { rowCount } = await tx.query(
    `INSERT INTO imagestorageplacement (storage_id, location_id)
     SELECT s.id, l.id FROM imagestorage s, imagestoragelocation l
     WHERE s.id = $1 AND l.name = $2 AND EXISTS (SELECT 1 FROM imagestorageplacement p WHERE p.storage_id = s.id)
     ON CONFLICT (storage_id, location_id) DO NOTHING`,
    [storageId, location],
  );
  if (rowCount === 1) return true;
  const { rows } = await tx.query(
    `SELECT 1 FROM imagestorage s WHERE s.id = $1 AND EXISTS (SELECT 1 FROM imagestorageplacement p WHERE p.storage_id = s.id)`,
    [storageId],
  );
  return rows.length === 1;
}

/** Replication backlog: queued items with retries left, and dead ones (no retries left). */
export async function replicationBacklog(sql: Queryable): Promise<{ queued: number; dead: number }> {
  const { rows } = await sql.query<{ queued: number; dead: number }>(
    `SELECT count(*) FILTER (WHERE retries_remaining > 0)::int AS queued, count(*) FILTER (WHERE retries_remaining <= 0)::int AS dead
     FROM queueitem WHERE queue_name LIKE '${REPLICATION_QUEUE}/%'`,
  );
  return rows[0] ?? { queued: 0, dead: 0 };
}
