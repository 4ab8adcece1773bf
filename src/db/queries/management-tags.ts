/**
 * Reads behind Quay's tag REST API (endpoints/api/tag.py, data/model/oci/tag.py): the
 * tag-row history of a repository page by page, the manifests a tag may be moved to or
 * restored from, and the alive tags a delete must look at. Writes to tag rows go through
 * queries/manifests.ts (per-tag lock, one alive row per name).
 */
import type { Queryable } from "../../core/ports/sql.js";
import { tableExists } from "./optional-tables.js";

export interface TagHistoryRow {
  name: string;
  reversion: boolean;
  immutable: boolean;
  start_ms: string;
  end_ms: string | null;
  digest: string;
  media_type: string;
  layers_compressed_size: string | null;
  /** Children of a list: digest and whether its bytes are stored (not a proxy-cache placeholder). */
  children: { digest: string; present: boolean }[] | null;
}

export interface TagHistoryQuery {
  onlyActive: boolean;
  specificTag: string | null;
  /** `eq` (exact) or `like` (contains, case-insensitive). */
  filter: { op: "eq" | "like"; value: string } | null;
  nowMs: number;
  limit: number;
  offset: number;
}

/** `ILIKE` pattern matching `value` anywhere, its wildcards taken literally. */
function containsPattern(value: string): string {
  return `%${value.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** Visible tag rows (history included unless `onlyActive`), newest first, `limit` + 1 of them to tell whether more follow. */
export async function listTagHistory(sql: Queryable, repositoryId: number, query: TagHistoryQuery): Promise<TagHistoryRow[]> {
  const { rows } = await sql.query<TagHistoryRow>(
    `SELECT t.name, t.reversion, t.immutable, t.lifetime_start_ms::text AS start_ms, t.lifetime_end_ms::text AS end_ms,
            m.digest, mt.name AS media_type, m.layers_compressed_size::text AS layers_compressed_size,
            (SELECT json_agg(json_build_object('digest', c.digest, 'present', c.manifest_bytes <> '') ORDER BY c.id)
             FROM manifestchild mc JOIN manifest c ON c.id = mc.child_manifest_id WHERE mc.manifest_id = m.id) AS children
     FROM tag t JOIN manifest m ON m.id = t.manifest_id JOIN mediatype mt ON mt.id = m.media_type_id
     WHERE t.repository_id = $1 AND NOT t.hidden
       AND (NOT $2::boolean OR t.lifetime_end_ms IS NULL OR t.lifetime_end_ms > $3)
       AND ($4::text IS NULL OR t.name = $4)
       AND ($5::text IS NULL OR t.name = $5)
       AND ($6::text IS NULL OR t.name ILIKE $6)
     ORDER BY t.lifetime_start_ms DESC, t.name ASC, t.id DESC
     LIMIT $7 OFFSET $8`,
    [
      repositoryId,
      query.onlyActive,
      query.nowMs,
      query.specificTag,
      query.filter?.op === "eq" ? query.filter.value : null,
      query.filter?.op === "like" ? containsPattern(query.filter.value) : null,
      query.limit + 1,
      query.offset,
    ],
  );
  return rows;
}

/**
 * A manifest a tag may be moved to (Quay's lookup_manifest without allow_dead): one an
 * alive visible tag points at, or a child of such a manifest. Locked against GC's delete
 * until the transaction ends (as every lookup of a manifest about to be tagged is).
 */
export async function findTaggedManifest(sql: Queryable, repositoryId: number, digest: string, nowMs: number): Promise<number | null> {
  const { rows } = await sql.query<{ id: number }>(
    `SELECT m.id FROM manifest m
     WHERE m.repository_id = $1 AND m.digest = $2
       AND (EXISTS (SELECT 1 FROM tag t WHERE t.manifest_id = m.id AND NOT t.hidden AND (t.lifetime_end_ms IS NULL OR t.lifetime_end_ms > $3))
         OR EXISTS (SELECT 1 FROM manifestchild mc JOIN tag t ON t.manifest_id = mc.manifest_id
                    WHERE mc.child_manifest_id = m.id AND NOT t.hidden AND (t.lifetime_end_ms IS NULL OR t.lifetime_end_ms > $3)))
     FOR KEY SHARE OF m`,
    [repositoryId, digest, nowMs],
  );
  return rows[0]?.id ?? null;
}

/**
 * A manifest the time machine still holds: some tag row of the repository pointed at it
 * and is alive or ended after `sinceMs` (now minus the namespace's window). Locked
 * against GC's delete until the transaction ends: its tag may pass the window meanwhile.
 */
export async function findRestorableManifest(
  sql: Queryable,
  repositoryId: number,
  digest: string,
  sinceMs: number,
): Promise<number | null> {
  const { rows } = await sql.query<{ id: number }>(
    `SELECT m.id FROM manifest m
     WHERE m.repository_id = $1 AND m.digest = $2
       AND EXISTS (SELECT 1 FROM tag t WHERE t.repository_id = $1 AND t.manifest_id = m.id AND (t.lifetime_end_ms IS NULL OR t.lifetime_end_ms > $3))
     FOR KEY SHARE OF m`,
    [repositoryId, digest, sinceMs],
  );
  return rows[0]?.id ?? null;
}

/** Names of the alive visible tags on a manifest (Cosign siblings are expired only when none other remains). */
export async function aliveVisibleTagNames(sql: Queryable, repositoryId: number, manifestId: number, nowMs: number): Promise<string[]> {
  const { rows } = await sql.query<{ name: string }>(
    `SELECT name FROM tag
     WHERE repository_id = $1 AND manifest_id = $2 AND NOT hidden AND (lifetime_end_ms IS NULL OR lifetime_end_ms > $3) ORDER BY name`,
    [repositoryId, manifestId, nowMs],
  );
  return rows.map((r) => r.name);
}

/** Quay clears a deleted tag's pull statistics; the table exists only on databases at Quay's newer revisions. */
export async function clearTagPullStatistics(sql: Queryable, repositoryId: number, name: string): Promise<void> {
  if (!(await tableExists(sql, "tagpullstatistics"))) return;
  await sql.query(`DELETE FROM tagpullstatistics WHERE repository_id = $1 AND tag_name = $2`, [repositoryId, name]);
}
