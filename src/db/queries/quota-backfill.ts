/**
 * The quota backfill's rows (Quay's quotatotalworker / run_backfill): namespaces (not
 * robots, not disabled) and repositories (not marked for deletion) without a complete
 * total get a placeholder row, then one claimed row at a time (SKIP LOCKED, so two
 * runners never compute the same total) is recomputed from scratch.
 */
import type { Queryable } from "../../core/ports/sql.js";

/** Quay's RepositoryState.MARKED_FOR_DELETION. */
const MARKED_FOR_DELETION = 3;

/** Adds an incomplete row for up to `limit` namespaces that have none; how many it added. */
export async function seedMissingNamespaceTotals(sql: Queryable, limit: number): Promise<number> {
  const result = await sql.query(
    `INSERT INTO quotanamespacesize (namespace_user_id, size_bytes, backfill_complete)
     SELECT u.id, 0, false FROM "user" u
     WHERE u.enabled AND NOT u.robot AND NOT EXISTS (SELECT 1 FROM quotanamespacesize q WHERE q.namespace_user_id = u.id)
     ORDER BY u.id LIMIT $1
     ON CONFLICT (namespace_user_id) DO NOTHING`,
    [limit],
  );
  return result.rowCount;
}

/** Adds an incomplete row for up to `limit` live repositories that have none; how many it added. */
export async function seedMissingRepositoryTotals(sql: Queryable, limit: number): Promise<number> {
  const result = await sql.query(
    `INSERT INTO quotarepositorysize (repository_id, size_bytes, backfill_complete)
     SELECT r.id, 0, false FROM repository r
     WHERE r.state <> ${MARKED_FOR_DELETION} AND NOT EXISTS (SELECT 1 FROM quotarepositorysize q WHERE q.repository_id = r.id)
     ORDER BY r.id LIMIT $1
     ON CONFLICT (repository_id) DO NOTHING`,
    [limit],
  );
  return result.rowCount;
}

/** Locks one incomplete namespace total no other runner holds (call inside a transaction); its namespace id. */
export async function claimIncompleteNamespaceTotal(tx: Queryable): Promise<number | null> {
  const { rows } = await tx.query<{ id: number }>(
    `SELECT q.namespace_user_id AS id FROM quotanamespacesize q JOIN "user" u ON u.id = q.namespace_user_id
     WHERE NOT q.backfill_complete AND u.enabled AND NOT u.robot
     ORDER BY q.id LIMIT 1 FOR UPDATE OF q SKIP LOCKED`,
  );
  return rows[0]?.id ?? null;
}

/** Locks one incomplete repository total no other runner holds (call inside a transaction); its repository id. */
export async function claimIncompleteRepositoryTotal(tx: Queryable): Promise<number | null> {
  const { rows } = await tx.query<{ id: number }>(
    `SELECT q.repository_id AS id FROM quotarepositorysize q JOIN repository r ON r.id = q.repository_id
     WHERE NOT q.backfill_complete AND r.state <> ${MARKED_FOR_DELETION}
     ORDER BY q.id LIMIT 1 FOR UPDATE OF q SKIP LOCKED`,
  );
  return rows[0]?.id ?? null;
}

/** Records a recomputed namespace total: start time, size, complete. */
export async function completeNamespaceTotal(tx: Queryable, namespaceId: number, startMs: number, size: number): Promise<void> {
  await tx.query(
    `UPDATE quotanamespacesize SET backfill_start_ms = $2, size_bytes = $3, backfill_complete = true WHERE namespace_user_id = $1`,
    [namespaceId, startMs, size],
  );
}

/** Records a recomputed repository total: start time, size, complete. */
export async function completeRepositoryTotal(tx: Queryable, repositoryId: number, startMs: number, size: number): Promise<void> {
  await tx.query(
    `UPDATE quotarepositorysize SET backfill_start_ms = $2, size_bytes = $3, backfill_complete = true WHERE repository_id = $1`,
    [repositoryId, startMs, size],
  );
}
