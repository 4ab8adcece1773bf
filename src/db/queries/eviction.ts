/**
 * Proxy-cache eviction and purge in Quay's tables: the live size of a namespace (blobs
 * reachable from alive tags, not Quay's running total, which drops only when GC runs),
 * the least recently pulled evictable tag, and a tag's removal from the time machine.
 */
import type { Queryable } from "../../core/ports/sql.js";
import { intArray, textArray } from "./arrays.js";
import { lockTag } from "./manifests.js";
import type { Clock } from "../../core/ports/clock.js";

/** Manifests reachable at $2 from alive tags (hidden too) of namespace $1, through manifestchild for lists. */
const ALIVE_MANIFESTS = `alive_manifests(id) AS (
    SELECT t.manifest_id FROM tag t JOIN repository r ON r.id = t.repository_id
    WHERE r.namespace_user_id = $1 AND t.manifest_id IS NOT NULL AND (t.lifetime_end_ms IS NULL OR t.lifetime_end_ms > $2)
    UNION
    SELECT mc.child_manifest_id FROM manifestchild mc JOIN alive_manifests a ON a.id = mc.manifest_id
  )`;

/**
 * The namespace's live size at `nowMs` (each distinct blob counted once) and how many of
 * the `incoming` bytes are new to it (blobs whose digest the live set does not hold).
 */
export async function liveSizes(
  sql: Queryable,
  namespaceId: number,
  nowMs: number,
  incoming: readonly { digest: string; size: number }[],
): Promise<{ live: number; incoming: number }> {
  const { rows } = await sql.query<{ live: string; incoming: string }>(
    `WITH RECURSIVE ${ALIVE_MANIFESTS},
     live AS (SELECT DISTINCT s.id, s.content_checksum, COALESCE(s.image_size, 0) AS size
              FROM manifestblob mb JOIN imagestorage s ON s.id = mb.blob_id WHERE mb.manifest_id IN (SELECT id FROM alive_manifests))
     SELECT (SELECT COALESCE(sum(size), 0) FROM live)::text AS live,
            (SELECT COALESCE(sum(i.size), 0) FROM unnest($3::text[], $4::bigint[]) AS i(digest, size)
             WHERE NOT EXISTS (SELECT 1 FROM live WHERE live.content_checksum = i.digest))::text AS incoming`,
    [namespaceId, nowMs, textArray(incoming.map((b) => b.digest)), intArray(incoming.map((b) => b.size))],
  );
  return { live: Number(rows[0]!.live), incoming: Number(rows[0]!.incoming) };
}

export interface CachedTag {
  repositoryId: number;
  repository: string;
  tag: string;
}

/**
 * The alive, visible, mutable tag of the namespace pulled least recently (never-recorded
 * first, then the oldest), skipping the tag ids in `exclude`; null when none is left.
 */
export async function leastRecentlyPulledTag(
  sql: Queryable,
  namespaceId: number,
  nowMs: number,
  exclude: readonly number[],
): Promise<(CachedTag & { id: number }) | null> {
  const { rows } = await sql.query<{ id: number; repository_id: number; repository: string; tag: string }>(
    `SELECT t.id, t.repository_id, r.name AS repository, t.name AS tag
     FROM tag t JOIN repository r ON r.id = t.repository_id
     LEFT JOIN pier.proxy_tag_pull p ON p.repository_id = t.repository_id AND p.tag_name = t.name
     WHERE r.namespace_user_id = $1 AND NOT t.hidden AND NOT t.immutable
       AND (t.lifetime_end_ms IS NULL OR t.lifetime_end_ms > $2) AND t.id <> ALL($3::int[])
     ORDER BY p.last_pull_ms ASC NULLS FIRST, t.lifetime_start_ms, t.id
     LIMIT 1`,
    [namespaceId, nowMs, intArray(exclude)],
  );
  const row = rows[0];
  return row ? { id: row.id, repositoryId: row.repository_id, repository: row.repository, tag: row.tag } : null;
}

/** Alive tags (hidden too) of the namespace, optionally of one repository and one tag name. */
export async function aliveCachedTags(
  sql: Queryable,
  namespaceId: number,
  nowMs: number,
  scope: { repositoryId?: number; tag?: string },
): Promise<CachedTag[]> {
  const { rows } = await sql.query<{ repository_id: number; repository: string; tag: string }>(
    `SELECT DISTINCT t.repository_id, r.name AS repository, t.name AS tag
     FROM tag t JOIN repository r ON r.id = t.repository_id
     WHERE r.namespace_user_id = $1 AND (t.lifetime_end_ms IS NULL OR t.lifetime_end_ms > $2)
       AND ($3::int IS NULL OR t.repository_id = $3) AND ($4::text IS NULL OR t.name = $4)
     ORDER BY r.name, t.name`,
    [namespaceId, nowMs, scope.repositoryId ?? null, scope.tag ?? null],
  );
  return rows.map((r) => ({ repositoryId: r.repository_id, repository: r.repository, tag: r.tag }));
}

/** Seconds a removed tag stays in the namespace's time machine (Quay's removed_tag_expiration_s). */
export async function timeMachineSeconds(sql: Queryable, namespaceId: number): Promise<number> {
  const { rows } = await sql.query<{ seconds: string }>(`SELECT removed_tag_expiration_s::text AS seconds FROM "user" WHERE id = $1`, [
    namespaceId,
  ]);
  return Number(rows[0]?.seconds ?? 0);
}

/**
 * Removes the alive tag `name` from the time machine, as Quay's remove_tag_from_timemachine
 * does for an alive tag, under the tag's lock: the row ends at the window's start (now −
 * `windowMs`), never before its own start; a row that would end at its start is deleted
 * with its notification rows (it was never visible in history). Nothing happens when an
 * alive row is immutable. Returns the manifest ids the removed rows pointed at.
 */
export async function removeAliveTag(
  sql: Queryable,
  clock: Clock,
  repositoryId: number,
  name: string,
  windowMs: number,
): Promise<number[]> {
  const atMs = await lockTag(sql, clock, repositoryId, name);
  const { rows } = await sql.query<{ manifest_id: number }>(
    `WITH alive AS (
       SELECT id, manifest_id, lifetime_start_ms AS start_ms,
              GREATEST(lifetime_start_ms, LEAST($4::bigint, lead(lifetime_start_ms) OVER (ORDER BY lifetime_start_ms, id))) AS end_ms
       FROM tag WHERE repository_id = $1 AND name = $2 AND (lifetime_end_ms IS NULL OR lifetime_end_ms > $3)
         AND NOT EXISTS (SELECT 1 FROM tag i WHERE i.repository_id = $1 AND i.name = $2 AND i.immutable
                           AND (i.lifetime_end_ms IS NULL OR i.lifetime_end_ms > $3))
     ), empty AS (SELECT id FROM alive WHERE end_ms <= start_ms),
     unnotified AS (DELETE FROM tagnotificationsuccess WHERE tag_id IN (SELECT id FROM empty)),
     removed AS (DELETE FROM tag WHERE id IN (SELECT id FROM empty) RETURNING manifest_id),
     ended AS (UPDATE tag SET lifetime_end_ms = alive.end_ms FROM alive
               WHERE tag.id = alive.id AND alive.end_ms > alive.start_ms RETURNING tag.manifest_id)
     SELECT manifest_id FROM removed UNION SELECT manifest_id FROM ended`,
    [repositoryId, name, atMs, atMs - windowMs],
  );
  return rows.map((r) => r.manifest_id).filter((id): id is number => id !== null);
}

/**
 * Names of alive hidden `$temp-` tags on the children of list `manifestId`, when no alive
 * tag points at the list any more (a list still tagged keeps its children reachable).
 */
export async function orphanedChildTempTags(sql: Queryable, repositoryId: number, manifestId: number, nowMs: number): Promise<string[]> {
  const { rows } = await sql.query<{ name: string }>(
    `SELECT DISTINCT t.name FROM manifestchild mc JOIN tag t ON t.manifest_id = mc.child_manifest_id AND t.repository_id = mc.repository_id
     WHERE mc.repository_id = $1 AND mc.manifest_id = $2 AND t.hidden AND t.name LIKE '$temp-%'
       AND (t.lifetime_end_ms IS NULL OR t.lifetime_end_ms > $3)
       AND NOT EXISTS (SELECT 1 FROM tag p WHERE p.manifest_id = $2 AND (p.lifetime_end_ms IS NULL OR p.lifetime_end_ms > $3))
     ORDER BY t.name`,
    [repositoryId, manifestId, nowMs],
  );
  return rows.map((r) => r.name);
}

/** True when the organization is a proxy cache (has a proxycacheconfig row). */
export async function isProxyCacheOrganization(sql: Queryable, organizationId: number): Promise<boolean> {
  const { rows } = await sql.query(`SELECT 1 FROM proxycacheconfig WHERE organization_id = $1 LIMIT 1`, [organizationId]);
  return rows.length > 0;
}
