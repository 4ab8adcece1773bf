/**
 * Repositories as the management API creates, lists, changes and deletes them
 * (data/model/repository.py), and the audit log every write appends to (data/model/log.py).
 */
import type { Queryable } from "../../core/ports/sql.js";
import { intArray } from "./arrays.js";

/** Quay's RepositoryState.MARKED_FOR_DELETION. */
const MARKED_FOR_DELETION = 3;

export interface RepositoryRecord {
  id: number;
  name: string;
  description: string | null;
  visibility: string;
  kind: string;
  state: number;
  badge_token: string;
  trust_enabled: boolean;
  namespace_id: number;
  namespace_organization: boolean;
  namespace_stripe_id: string | null;
  /** BIGINT as text. */
  namespace_tag_expiration_s: string;
}

/** A live repository (not marked for deletion) with what its views show of the namespace. */
export async function findRepositoryRecord(sql: Queryable, namespace: string, name: string): Promise<RepositoryRecord | null> {
  const { rows } = await sql.query<RepositoryRecord>(
    `SELECT r.id, r.name, r.description, v.name AS visibility, k.name AS kind, r.state, r.badge_token, r.trust_enabled,
            n.id AS namespace_id, n.organization AS namespace_organization, n.stripe_id AS namespace_stripe_id,
            n.removed_tag_expiration_s::text AS namespace_tag_expiration_s
     FROM repository r JOIN "user" n ON n.id = r.namespace_user_id
     JOIN visibility v ON v.id = r.visibility_id JOIN repositorykind k ON k.id = r.kind_id
     WHERE n.username = $1 AND r.name = $2 AND r.state <> ${MARKED_FOR_DELETION}`,
    [namespace, name],
  );
  return rows[0] ?? null;
}

export interface NewRepository {
  namespaceId: number;
  name: string;
  visibility: "public" | "private";
  kind: string;
  description: string | null;
  badgeToken: string;
}

/** Inserts the repository row; null when the name is taken in that namespace. */
export async function insertRepository(sql: Queryable, repo: NewRepository): Promise<number | null> {
  const { rows } = await sql.query<{ id: number }>(
    `INSERT INTO repository (namespace_user_id, name, visibility_id, kind_id, description, badge_token, trust_enabled, state)
     SELECT $1, $2, v.id, k.id, $5, $6, false, 0 FROM visibility v, repositorykind k WHERE v.name = $3 AND k.name = $4
     ON CONFLICT (namespace_user_id, name) DO NOTHING RETURNING id`,
    [repo.namespaceId, repo.name, repo.visibility, repo.kind, repo.description, repo.badgeToken],
  );
  return rows[0]?.id ?? null;
}

/** The counters Quay's create_repository starts: an action count dated yesterday and a search score. */
export async function insertRepositoryCounters(sql: Queryable, repositoryId: number, yesterday: string): Promise<void> {
  await sql.query(`INSERT INTO repositoryactioncount (repository_id, count, date) VALUES ($1, 0, $2::date)`, [repositoryId, yesterday]);
  await sql.query(`INSERT INTO repositorysearchscore (repository_id, score) VALUES ($1, 0)`, [repositoryId]);
}

export async function setRepositoryVisibility(sql: Queryable, repositoryId: number, visibility: string): Promise<void> {
  await sql.query(`UPDATE repository SET visibility_id = (SELECT id FROM visibility WHERE name = $2) WHERE id = $1`, [
    repositoryId,
    visibility,
  ]);
}

export interface ListedRepositoryRow {
  id: number;
  namespace: string;
  name: string;
  description: string | null;
  visibility: string;
  kind: string;
  state: number;
}

export interface VisibleFilter {
  /** The caller; null for anonymous callers (public repositories only). */
  userId: number | null;
  namespace: string | null;
  includePublic: boolean;
  /** Only repositories the caller starred; their own namespace then counts as readable (Quay's starred view). */
  starredOnly: boolean;
  kind: string;
  /** Smallest repository id of the page. */
  startId: number | null;
  limit: number | null;
}

/**
 * Repositories the caller sees (Quay's filter_to_repos_for_user): public ones when asked,
 * direct grants, team grants, and every repository of organizations they administer.
 */
export async function listVisibleRepositories(sql: Queryable, filter: VisibleFilter): Promise<ListedRepositoryRow[]> {
  const { rows } = await sql.query<ListedRepositoryRow>(
    `SELECT r.id, n.username AS namespace, r.name, r.description, v.name AS visibility, k.name AS kind, r.state
     FROM repository r JOIN "user" n ON n.id = r.namespace_user_id
     JOIN visibility v ON v.id = r.visibility_id JOIN repositorykind k ON k.id = r.kind_id
     WHERE r.state <> ${MARKED_FOR_DELETION} AND k.name = $3
       AND ($2::text IS NULL OR n.username = $2) AND ($4::int IS NULL OR r.id >= $4)
       AND (NOT $7 OR EXISTS (SELECT 1 FROM star s WHERE s.repository_id = r.id AND s.user_id = $1::int))
       AND (($5 AND v.name = 'public')
         OR ($7 AND r.namespace_user_id = $1::int)
         OR EXISTS (SELECT 1 FROM repositorypermission rp WHERE rp.repository_id = r.id AND rp.user_id = $1::int)
         OR EXISTS (SELECT 1 FROM repositorypermission rp JOIN teammember tm ON tm.team_id = rp.team_id
                    WHERE rp.repository_id = r.id AND tm.user_id = $1::int)
         OR EXISTS (SELECT 1 FROM team t JOIN teamrole tr ON tr.id = t.role_id JOIN teammember tm ON tm.team_id = t.id
                    WHERE t.organization_id = r.namespace_user_id AND tr.name = 'admin' AND tm.user_id = $1::int))
     ORDER BY r.id LIMIT $6`,
    [filter.userId, filter.namespace, filter.kind, filter.startId, filter.includePublic, filter.limit, filter.starredOnly],
  );
  return rows;
}

export async function findStarredIds(sql: Queryable, userId: number, repositoryIds: readonly number[]): Promise<Set<number>> {
  if (repositoryIds.length === 0) return new Set();
  const { rows } = await sql.query<{ repository_id: number }>(
    `SELECT repository_id FROM star WHERE user_id = $1 AND repository_id = ANY($2::int[])`,
    [userId, intArray(repositoryIds)],
  );
  return new Set(rows.map((r) => r.repository_id));
}

export async function isStarred(sql: Queryable, userId: number, repositoryId: number): Promise<boolean> {
  return (await findStarredIds(sql, userId, [repositoryId])).has(repositoryId);
}

/** Start (ms, as text) of the newest alive, visible tag per repository. */
export async function findLastModified(sql: Queryable, repositoryIds: readonly number[], nowMs: number): Promise<Map<number, string>> {
  if (repositoryIds.length === 0) return new Map();
  const { rows } = await sql.query<{ repository_id: number; start: string }>(
    `SELECT repository_id, max(lifetime_start_ms)::text AS start FROM tag
     WHERE repository_id = ANY($1::int[]) AND hidden = false AND (lifetime_end_ms IS NULL OR lifetime_end_ms > $2)
     GROUP BY repository_id`,
    [intArray(repositoryIds), nowMs],
  );
  return new Map(rows.map((r) => [r.repository_id, r.start]));
}

/** Sum of the daily action counts since `since` (a date) per repository. */
export async function findActionSums(sql: Queryable, repositoryIds: readonly number[], since: string): Promise<Map<number, number>> {
  if (repositoryIds.length === 0) return new Map();
  const { rows } = await sql.query<{ repository_id: number; total: number }>(
    `SELECT repository_id, sum(count)::int AS total FROM repositoryactioncount
     WHERE repository_id = ANY($1::int[]) AND date >= $2::date GROUP BY repository_id`,
    [intArray(repositoryIds), since],
  );
  return new Map(rows.map((r) => [r.repository_id, r.total]));
}

export async function listActionCounts(sql: Queryable, repositoryId: number, since: string): Promise<{ date: string; count: number }[]> {
  const { rows } = await sql.query<{ date: string; count: number }>(
    `SELECT date::text AS date, count FROM repositoryactioncount WHERE repository_id = $1 AND date >= $2::date ORDER BY date`,
    [repositoryId, since],
  );
  return rows;
}

export interface ActiveTagRow {
  name: string;
  lifetime_start_ms: string;
  lifetime_end_ms: string | null;
  digest: string | null;
  size: string | null;
}

/** The alive, visible tags of a repository, newest first (at most `limit`). */
export async function listActiveTags(sql: Queryable, repositoryId: number, nowMs: number, limit: number): Promise<ActiveTagRow[]> {
  const { rows } = await sql.query<ActiveTagRow>(
    `SELECT t.name, t.lifetime_start_ms::text AS lifetime_start_ms, t.lifetime_end_ms::text AS lifetime_end_ms,
            m.digest, m.layers_compressed_size::text AS size
     FROM tag t LEFT JOIN manifest m ON m.id = t.manifest_id
     WHERE t.repository_id = $1 AND t.hidden = false AND (t.lifetime_end_ms IS NULL OR t.lifetime_end_ms > $2)
     ORDER BY t.lifetime_start_ms DESC, t.id DESC LIMIT $3`,
    [repositoryId, nowMs, limit],
  );
  return rows;
}

/**
 * Quay's mark_repository_for_deletion: stars dropped, the row renamed to `newName` and
 * set to MARKED_FOR_DELETION, a `deletedrepository` marker and a `repositorygc` queue
 * item for the worker. Build queue items of the repository are dropped too.
 */
export async function markRepositoryForDeletion(
  sql: Queryable,
  repo: { id: number; namespace: string; name: string },
  newName: string,
  now: Date,
  stateId: string,
): Promise<void> {
  await sql.query(`DELETE FROM star WHERE repository_id = $1`, [repo.id]);
  await sql.query(`UPDATE repository SET name = $2, state = ${MARKED_FOR_DELETION} WHERE id = $1`, [repo.id, newName]);
  const marker = await sql.query<{ id: number }>(
    `INSERT INTO deletedrepository (repository_id, marked, original_name) VALUES ($1, $2, $3) RETURNING id`,
    [repo.id, now, repo.name],
  );
  const markerId = marker.rows[0]!.id;
  const queued = await sql.query<{ id: number }>(
    `INSERT INTO queueitem (queue_name, body, available_after, available, retries_remaining, state_id)
     VALUES ($1, $2, $3, true, 5, $4) RETURNING id`,
    [`repositorygc/${repo.namespace}/${repo.id}/`, JSON.stringify({ marker_id: markerId, original_name: repo.name }), now, stateId],
  );
  await sql.query(`UPDATE deletedrepository SET queue_id = $2 WHERE id = $1`, [markerId, String(queued.rows[0]!.id)]);
  await sql.query(`DELETE FROM queueitem WHERE queue_name LIKE $1 ESCAPE '\\'`, [
    `dockerfilebuild/${repo.namespace}/${repo.name}/`.replace(/[\\%_]/g, "\\$&") + "%",
  ]);
}
