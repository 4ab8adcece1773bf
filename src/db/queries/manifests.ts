/**
 * Writing manifests and tags as Quay does (data/model/oci/manifest.py, tag.py): a
 * manifest row per repository and digest with its manifestblob / manifestchild links
 * and a pending security status; tags moved by ending the alive row and starting a new
 * one, serialized per tag name with an advisory lock; per name at most one alive row,
 * no row ending before it starts, no two rows overlapping.
 */
import type { Clock } from "../../core/ports/clock.js";
import type { Queryable } from "../../core/ports/sql.js";
import { sleep } from "../../core/single-flight.js";
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

/**
 * Manifests of the repository among `digests`: digest → id and stored byte length.
 * `keyShare` locks the rows until the transaction ends, so GC cannot delete a manifest
 * that is about to be referenced (a new index's child).
 */
export async function findRepositoryManifests(
  sql: Queryable,
  repositoryId: number,
  digests: readonly string[],
  keyShare = false,
): Promise<Map<string, { id: number; size: number }>> {
  if (digests.length === 0) return new Map();
  const { rows } = await sql.query<{ digest: string; id: number; size: number }>(
    `SELECT digest, id, octet_length(manifest_bytes) AS size FROM manifest WHERE repository_id = $1 AND digest = ANY($2::varchar[])
     ORDER BY id${keyShare ? " FOR KEY SHARE" : ""}`,
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

/**
 * Inserts the manifest unless the repository has it; returns its id and whether it is
 * new. An existing row is locked (FOR KEY SHARE) until the transaction ends, so GC
 * cannot delete it under the tags about to point at it; one GC deleted meanwhile is
 * inserted again.
 */
export async function insertManifest(sql: Queryable, manifest: NewManifest): Promise<{ id: number; created: boolean }> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const found = await insertOrFindManifest(sql, manifest);
    if (found !== null) return found;
  }
  throw new Error(`manifest ${manifest.digest} was neither inserted nor found (unknown media type ${manifest.mediaType}?)`);
}

async function insertOrFindManifest(sql: Queryable, manifest: NewManifest): Promise<{ id: number; created: boolean } | null> {
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
  const { rows } = await sql.query<{ id: number }>(`SELECT id FROM manifest WHERE repository_id = $1 AND digest = $2 FOR KEY SHARE`, [
    manifest.repositoryId,
    manifest.digest,
  ]);
  return rows[0] ? { id: rows[0].id, created: false } : null;
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

/** How many 1 ms waits a write makes for the clock to pass the newest row's start. */
const TICK_WAITS = 20;

/**
 * Takes the lock serializing writes to one tag name of a repository (held until the
 * transaction ends), then reads the clock: an instant read before the lock could be
 * older than a write that committed while this one waited. History never runs backwards,
 * even if the clock does: a write happens no earlier than the newest row's start. A write
 * in or before the newest row's start millisecond (same millisecond, or a host whose clock
 * lags a little) waits for the clock to pass it, so that row keeps a non-empty span in
 * history; only a clock stuck or stepped back further folds it (see endAliveRows).
 */
export async function lockTag(sql: Queryable, clock: Clock, repositoryId: number, name: string): Promise<number> {
  await sql.query(`SELECT pg_advisory_xact_lock($1, hashtext($2))`, [repositoryId, name]);
  const { rows } = await sql.query<{ latest: string | null }>(
    `SELECT max(lifetime_start_ms)::text AS latest FROM tag WHERE repository_id = $1 AND name = $2`,
    [repositoryId, name],
  );
  const latest = Number(rows[0]?.latest ?? 0);
  for (let i = 0; i < TICK_WAITS && clock.now() <= latest; i++) await sleep(1);
  return Math.max(clock.now(), latest);
}

interface AliveTag {
  manifest_id: number;
  immutable: boolean;
}

/** Rows of `name` alive at `atMs`, newest first (more than one only in rows written by a racing older version). */
async function aliveRows(sql: Queryable, repositoryId: number, name: string, atMs: number): Promise<AliveTag[]> {
  const { rows } = await sql.query<AliveTag>(
    `SELECT manifest_id, immutable FROM tag
     WHERE repository_id = $1 AND name = $2 AND (lifetime_end_ms IS NULL OR lifetime_end_ms > $3)
     ORDER BY lifetime_start_ms DESC, id DESC`,
    [repositoryId, name, atMs],
  );
  return rows;
}

/**
 * Ends every row of `name` alive at `atMs` (so stale overlapping rows get repaired too):
 * each at the next alive row's start, the newest at `atMs`. A row that would end where it
 * starts is removed: it was never visible, and the unique (repository, name, end) index
 * holds the previous row's end at that very instant.
 */
async function endAliveRows(sql: Queryable, repositoryId: number, name: string, atMs: number): Promise<void> {
  await sql.query(
    `WITH alive AS (
       SELECT id, lifetime_start_ms AS start_ms,
              COALESCE(lead(lifetime_start_ms) OVER (ORDER BY lifetime_start_ms, id), $3::bigint) AS end_ms
       FROM tag WHERE repository_id = $1 AND name = $2 AND (lifetime_end_ms IS NULL OR lifetime_end_ms > $3)
     ), empty AS (SELECT id FROM alive WHERE end_ms <= start_ms),
     unnotified AS (DELETE FROM tagnotificationsuccess WHERE tag_id IN (SELECT id FROM empty)),
     removed AS (DELETE FROM tag WHERE id IN (SELECT id FROM empty))
     UPDATE tag SET lifetime_end_ms = alive.end_ms FROM alive WHERE tag.id = alive.id AND alive.end_ms > alive.start_ms`,
    [repositoryId, name, atMs],
  );
}

export type TagOutcome =
  { kind: "created"; atMs: number } | { kind: "moved"; atMs: number; previousManifestId: number } | { kind: "immutable" };

/**
 * Points tag `name` at the manifest: the alive row (if any) ends, a new one starts at
 * that instant (returned); `lifetimeMs` (positive) gives the new row an expiry, and
 * `reversion` marks a restore from the time machine.
 */
export async function retargetTag(
  sql: Queryable,
  clock: Clock,
  repositoryId: number,
  name: string,
  manifestId: number,
  options: { hidden?: boolean; lifetimeMs?: number; reversion?: boolean } = {},
): Promise<TagOutcome> {
  const atMs = await lockTag(sql, clock, repositoryId, name);
  const alive = await aliveRows(sql, repositoryId, name, atMs);
  if (alive.some((row) => row.immutable)) return { kind: "immutable" };
  await endAliveRows(sql, repositoryId, name, atMs);
  await sql.query(
    `INSERT INTO tag (name, repository_id, manifest_id, lifetime_start_ms, lifetime_end_ms, immutable, hidden, reversion, tag_kind_id)
     SELECT $1, $2, $3, $4, $5, false, $6, $7, k.id FROM tagkind k WHERE k.name = 'tag'`,
    [
      name,
      repositoryId,
      manifestId,
      atMs,
      options.lifetimeMs === undefined ? null : atMs + Math.max(1, options.lifetimeMs),
      options.hidden ?? false,
      options.reversion ?? false,
    ],
  );
  return alive[0] ? { kind: "moved", atMs, previousManifestId: alive[0].manifest_id } : { kind: "created", atMs };
}

/**
 * Ends the alive tag `name` — only if it still points at `onlyManifestId` when given (a
 * delete by digest must not end a tag a racing push just moved). Its manifest id and the
 * instant, "immutable", or null when there is no such alive tag.
 */
export async function endTag(
  sql: Queryable,
  clock: Clock,
  repositoryId: number,
  name: string,
  onlyManifestId?: number,
): Promise<{ manifestId: number; atMs: number } | "immutable" | null> {
  const atMs = await lockTag(sql, clock, repositoryId, name);
  const alive = await aliveRows(sql, repositoryId, name, atMs);
  const current = alive[0];
  if (current === undefined || (onlyManifestId !== undefined && current.manifest_id !== onlyManifestId)) return null;
  if (alive.some((row) => row.immutable)) return "immutable";
  await endAliveRows(sql, repositoryId, name, atMs);
  return { manifestId: current.manifest_id, atMs };
}

export type EndChange = { startMs: number; previousEndMs: number | null; endMs: number | null } | "immutable" | null;

/**
 * Sets (or clears, with null) the end of the alive tag `name` under its lock; `chooseEnd`
 * gets the row's start and the instant and must answer an end after both (or null).
 * The previous and new end, "immutable", or null when there is no alive tag.
 */
export async function changeTagEnd(
  sql: Queryable,
  clock: Clock,
  repositoryId: number,
  name: string,
  chooseEnd: (startMs: number, atMs: number) => number | null,
): Promise<EndChange> {
  const atMs = await lockTag(sql, clock, repositoryId, name);
  const { rows } = await sql.query<{ id: number; immutable: boolean; start_ms: string; end_ms: string | null }>(
    `SELECT id, immutable, lifetime_start_ms::text AS start_ms, lifetime_end_ms::text AS end_ms FROM tag
     WHERE repository_id = $1 AND name = $2 AND (lifetime_end_ms IS NULL OR lifetime_end_ms > $3)
     ORDER BY lifetime_start_ms DESC, id DESC LIMIT 1`,
    [repositoryId, name, atMs],
  );
  const row = rows[0];
  if (!row) return null;
  if (row.immutable) return "immutable";
  const startMs = Number(row.start_ms);
  const endMs = chooseEnd(startMs, atMs);
  if (endMs !== null && (endMs <= startMs || endMs <= atMs)) throw new RangeError("a tag's new end must follow its start and now");
  await sql.query(`UPDATE tag SET lifetime_end_ms = $2 WHERE id = $1`, [row.id, endMs]);
  return { startMs, previousEndMs: row.end_ms === null ? null : Number(row.end_ms), endMs };
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
