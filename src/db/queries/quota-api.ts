/**
 * The quota REST API's rows (Quay's data/model/namespacequota.py): one
 * userorganizationquota per namespace, its quotalimits (Warning or Reject at a percent),
 * and the notification state Quay clears with them.
 */
import type { Queryable } from "../../core/ports/sql.js";
import { tableExists } from "./optional-tables.js";

export interface QuotaRow {
  id: number;
  namespace_id: number;
  limit_bytes: string;
}

export interface QuotaLimitView {
  id: number;
  type: string;
  percent_of_limit: number;
}

/** The namespace's quotas (Quay allows one) by namespace name, users and organizations alike. */
export async function listNamespaceQuotas(sql: Queryable, namespace: string): Promise<QuotaRow[]> {
  const { rows } = await sql.query<QuotaRow>(
    `SELECT q.id, q.namespace_id, q.limit_bytes::text AS limit_bytes FROM userorganizationquota q JOIN "user" u ON u.id = q.namespace_id
     WHERE u.username = $1 ORDER BY q.id`,
    [namespace],
  );
  return rows;
}

/** One quota of a namespace, or null. */
export async function findNamespaceQuota(sql: Queryable, namespace: string, quotaId: number): Promise<QuotaRow | null> {
  const { rows } = await sql.query<QuotaRow>(
    `SELECT q.id, q.namespace_id, q.limit_bytes::text AS limit_bytes FROM userorganizationquota q JOIN "user" u ON u.id = q.namespace_id
     WHERE u.username = $1 AND q.id = $2`,
    [namespace, quotaId],
  );
  return rows[0] ?? null;
}

/** Creates the namespace's quota; null when one appeared meanwhile (the unique index). */
export async function insertQuota(sql: Queryable, namespaceId: number, limitBytes: string): Promise<number | null> {
  const { rows } = await sql.query<{ id: number }>(
    `INSERT INTO userorganizationquota (namespace_id, limit_bytes) VALUES ($1, $2) ON CONFLICT (namespace_id) DO NOTHING RETURNING id`,
    [namespaceId, limitBytes],
  );
  return rows[0]?.id ?? null;
}

export async function updateQuotaLimitBytes(sql: Queryable, quotaId: number, limitBytes: string): Promise<void> {
  await sql.query(`UPDATE userorganizationquota SET limit_bytes = $2 WHERE id = $1`, [quotaId, limitBytes]);
}

/** Deletes a quota with its limits, the namespace's quota notification state and its quota notifications, as Quay does. */
export async function deleteQuota(sql: Queryable, quota: QuotaRow): Promise<void> {
  if (await tableExists(sql, "quotanotificationstate")) {
    await sql.query(`DELETE FROM quotanotificationstate WHERE namespace_id = $1`, [quota.namespace_id]);
  }
  await sql.query(
    `DELETE FROM namespacenotification WHERE namespace_id = $1
     AND event_id IN (SELECT id FROM externalnotificationevent WHERE name IN ('quota_warning', 'quota_error'))`,
    [quota.namespace_id],
  );
  await sql.query(`DELETE FROM quotalimits WHERE quota_id = $1`, [quota.id]);
  await sql.query(`DELETE FROM userorganizationquota WHERE id = $1`, [quota.id]);
}

/** A quota's limits, optionally only those of one type name and percent. */
export async function listQuotaLimits(
  sql: Queryable,
  quotaId: number,
  filter: { type?: string; percent?: number } = {},
): Promise<QuotaLimitView[]> {
  const { rows } = await sql.query<QuotaLimitView>(
    `SELECT ql.id, qt.name AS type, ql.percent_of_limit FROM quotalimits ql JOIN quotatype qt ON qt.id = ql.quota_type_id
     WHERE ql.quota_id = $1 AND ($2::text IS NULL OR qt.name = $2) AND ($3::int IS NULL OR ql.percent_of_limit = $3)
     ORDER BY ql.id`,
    [quotaId, filter.type ?? null, filter.percent ?? null],
  );
  return rows;
}

/** One limit of a quota, or null (a limit of another quota is not found). */
export async function findQuotaLimit(sql: Queryable, quotaId: number, limitId: number): Promise<QuotaLimitView | null> {
  const { rows } = await sql.query<QuotaLimitView>(
    `SELECT ql.id, qt.name AS type, ql.percent_of_limit FROM quotalimits ql JOIN quotatype qt ON qt.id = ql.quota_type_id
     WHERE ql.quota_id = $1 AND ql.id = $2`,
    [quotaId, limitId],
  );
  return rows[0] ?? null;
}

export async function insertQuotaLimit(sql: Queryable, quotaId: number, type: string, percent: number): Promise<void> {
  await sql.query(`INSERT INTO quotalimits (quota_id, quota_type_id, percent_of_limit) SELECT $1, id, $3 FROM quotatype WHERE name = $2`, [
    quotaId,
    type,
    percent,
  ]);
}

export async function updateQuotaLimit(sql: Queryable, limitId: number, type: string, percent: number): Promise<void> {
  await sql.query(
    `UPDATE quotalimits SET quota_type_id = (SELECT id FROM quotatype WHERE name = $2), percent_of_limit = $3 WHERE id = $1`,
    [limitId, type, percent],
  );
}

/** Deletes a limit and the notification state of its threshold, as Quay does. */
export async function deleteQuotaLimit(sql: Queryable, namespaceId: number, limit: QuotaLimitView): Promise<void> {
  if (await tableExists(sql, "quotanotificationstate")) {
    await sql.query(`DELETE FROM quotanotificationstate WHERE namespace_id = $1 AND threshold_percent = $2`, [
      namespaceId,
      limit.percent_of_limit,
    ]);
  }
  await sql.query(`DELETE FROM quotalimits WHERE id = $1`, [limit.id]);
}
