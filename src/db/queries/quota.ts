/**
 * Quota in Quay's tables (data/model/quota.py, namespacequota.py): a namespace's or
 * repository's size is the sum of `image_size` over the DISTINCT blobs its manifests
 * reference; totals are kept incrementally in quotanamespacesize/quotarepositorysize;
 * limits are userorganizationquota + quotalimits rows (Warning or Reject at a percent).
 */
import type { Queryable } from "../../core/ports/sql.js";

export interface QuotaLimitRow {
  type: string;
  percent_of_limit: number;
  limit_bytes: string;
}

export async function findQuotaLimits(sql: Queryable, namespaceId: number): Promise<QuotaLimitRow[]> {
  const { rows } = await sql.query<QuotaLimitRow>(
    `SELECT qt.name AS type, ql.percent_of_limit, q.limit_bytes::text AS limit_bytes
     FROM userorganizationquota q
     JOIN quotalimits ql ON ql.quota_id = q.id
     JOIN quotatype qt ON qt.id = ql.quota_type_id
     WHERE q.namespace_id = $1`,
    [namespaceId],
  );
  return rows;
}

/** The namespace's recorded size, or null when it has no complete total (backfill pending). */
export async function namespaceSize(sql: Queryable, namespaceId: number): Promise<number | null> {
  const { rows } = await sql.query<{ size: string }>(
    `SELECT size_bytes::text AS size FROM quotanamespacesize WHERE namespace_user_id = $1 AND backfill_complete`,
    [namespaceId],
  );
  return rows[0] ? Number(rows[0].size) : null;
}

/** The namespace's size computed from scratch (what Quay's backfill worker records). */
export async function computeNamespaceSize(sql: Queryable, namespaceId: number): Promise<number> {
  const { rows } = await sql.query<{ size: string }>(
    `SELECT COALESCE(sum(s.image_size), 0)::text AS size FROM imagestorage s
     WHERE s.id IN (SELECT mb.blob_id FROM manifestblob mb JOIN repository r ON r.id = mb.repository_id WHERE r.namespace_user_id = $1)`,
    [namespaceId],
  );
  return Number(rows[0]!.size);
}

/** The repository's size computed from scratch: DISTINCT blobs its manifests reference. */
export async function computeRepositorySize(sql: Queryable, repositoryId: number): Promise<number> {
  const { rows } = await sql.query<{ size: string }>(
    `SELECT COALESCE(sum(s.image_size), 0)::text AS size FROM imagestorage s
     WHERE s.id IN (SELECT mb.blob_id FROM manifestblob mb WHERE mb.repository_id = $1)`,
    [repositoryId],
  );
  return Number(rows[0]!.size);
}

/**
 * Adds a new manifest's blobs to the totals, each counted only where no other manifest
 * of the namespace (resp. repository) already references it. A missing total is created
 * only for the first manifest; otherwise it is left to the backfill job, as Quay does.
 * Returns the namespace's size afterwards (null when it has no complete total).
 */
export async function addManifestToTotals(
  sql: Queryable,
  namespaceId: number,
  repositoryId: number,
  manifestId: number,
): Promise<number | null> {
  const { rows } = await sql.query<{
    namespace_added: string;
    repository_added: string;
    namespace_manifests: number;
    repository_manifests: number;
  }>(
    `WITH blobs AS (SELECT DISTINCT s.id, COALESCE(s.image_size, 0) AS size FROM manifestblob mb JOIN imagestorage s ON s.id = mb.blob_id WHERE mb.manifest_id = $3)
     SELECT
       COALESCE((SELECT sum(b.size) FROM blobs b WHERE NOT EXISTS (
         SELECT 1 FROM manifestblob o JOIN repository r ON r.id = o.repository_id
         WHERE o.blob_id = b.id AND r.namespace_user_id = $1 AND o.manifest_id <> $3)), 0)::text AS namespace_added,
       COALESCE((SELECT sum(b.size) FROM blobs b WHERE NOT EXISTS (
         SELECT 1 FROM manifestblob o WHERE o.blob_id = b.id AND o.repository_id = $2 AND o.manifest_id <> $3)), 0)::text AS repository_added,
       (SELECT count(*)::int FROM manifest m JOIN repository r ON r.id = m.repository_id WHERE r.namespace_user_id = $1) AS namespace_manifests,
       (SELECT count(*)::int FROM manifest m WHERE m.repository_id = $2) AS repository_manifests`,
    [namespaceId, repositoryId, manifestId],
  );
  const added = rows[0]!;
  await addToTotal(sql, "quotanamespacesize", "namespace_user_id", namespaceId, added.namespace_added, added.namespace_manifests === 1);
  await addToTotal(sql, "quotarepositorysize", "repository_id", repositoryId, added.repository_added, added.repository_manifests === 1);
  return namespaceSize(sql, namespaceId);
}

/**
 * Adds to a complete total, and always writes (so locks) the row: the backfill claims
 * rows with SKIP LOCKED, so it never recomputes a total while a push that has not
 * committed its manifest holds it, and a push waits for a running backfill and then adds
 * to its result. A missing row is created complete for the first manifest, else
 * incomplete for the backfill (Quay leaves it absent, which lets a backfill running
 * meanwhile miss this push).
 */
async function addToTotal(
  sql: Queryable,
  table: "quotanamespacesize" | "quotarepositorysize",
  column: "namespace_user_id" | "repository_id",
  id: number,
  bytes: string,
  firstManifest: boolean,
): Promise<void> {
  await sql.query(
    `INSERT INTO ${table} AS t (${column}, size_bytes, backfill_complete) VALUES ($1, CASE WHEN $3 THEN $2::bigint ELSE 0 END, $3)
     ON CONFLICT (${column}) DO UPDATE SET size_bytes = t.size_bytes + CASE WHEN t.backfill_complete THEN $2::bigint ELSE 0 END`,
    [id, bytes, firstManifest],
  );
}
