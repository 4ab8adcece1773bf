/**
 * Quota in Quay's tables (data/model/quota.py, namespacequota.py): a namespace's or
 * repository's size is the sum of `image_size` over the DISTINCT blobs its manifests
 * reference; totals are kept incrementally in quotanamespacesize/quotarepositorysize;
 * limits are userorganizationquota + quotalimits rows (Warning or Reject at a percent).
 */
import type { Queryable } from "../../core/ports/sql.js";
import { intArray } from "./arrays.js";

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

/** Bytes of the manifest's blobs that no other manifest of the namespace (resp. repository) references. */
interface ExclusiveBytes {
  namespace: string;
  repository: string;
  namespaceManifests: number;
  repositoryManifests: number;
}

/**
 * Locks both total rows (namespace first, the one order every writer uses), so the share
 * computed next sees every write that committed before: a push adding a blob and GC
 * removing the last other manifest that references it cannot both miss it.
 */
async function lockTotals(sql: Queryable, namespaceId: number, repositoryId: number): Promise<void> {
  await sql.query(`SELECT 1 FROM quotanamespacesize WHERE namespace_user_id = $1 FOR UPDATE`, [namespaceId]);
  await sql.query(`SELECT 1 FROM quotarepositorysize WHERE repository_id = $1 FOR UPDATE`, [repositoryId]);
}

async function exclusiveBytes(sql: Queryable, namespaceId: number, repositoryId: number, manifestId: number): Promise<ExclusiveBytes> {
  const { rows } = await sql.query<{
    namespace_bytes: string;
    repository_bytes: string;
    namespace_manifests: number;
    repository_manifests: number;
  }>(
    `WITH blobs AS (SELECT DISTINCT s.id, COALESCE(s.image_size, 0) AS size FROM manifestblob mb JOIN imagestorage s ON s.id = mb.blob_id WHERE mb.manifest_id = $3)
     SELECT
       COALESCE((SELECT sum(b.size) FROM blobs b WHERE NOT EXISTS (
         SELECT 1 FROM manifestblob o JOIN repository r ON r.id = o.repository_id
         WHERE o.blob_id = b.id AND r.namespace_user_id = $1 AND o.manifest_id <> $3)), 0)::text AS namespace_bytes,
       COALESCE((SELECT sum(b.size) FROM blobs b WHERE NOT EXISTS (
         SELECT 1 FROM manifestblob o WHERE o.blob_id = b.id AND o.repository_id = $2 AND o.manifest_id <> $3)), 0)::text AS repository_bytes,
       (SELECT count(*)::int FROM manifest m JOIN repository r ON r.id = m.repository_id WHERE r.namespace_user_id = $1) AS namespace_manifests,
       (SELECT count(*)::int FROM manifest m WHERE m.repository_id = $2) AS repository_manifests`,
    [namespaceId, repositoryId, manifestId],
  );
  const row = rows[0]!;
  return {
    namespace: row.namespace_bytes,
    repository: row.repository_bytes,
    namespaceManifests: row.namespace_manifests,
    repositoryManifests: row.repository_manifests,
  };
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
  await lockTotals(sql, namespaceId, repositoryId);
  const added = await exclusiveBytes(sql, namespaceId, repositoryId, manifestId);
  await addToTotal(sql, "quotanamespacesize", "namespace_user_id", namespaceId, added.namespace, added.namespaceManifests === 1);
  await addToTotal(sql, "quotarepositorysize", "repository_id", repositoryId, added.repository, added.repositoryManifests === 1);
  return namespaceSize(sql, namespaceId);
}

/**
 * Takes manifests about to be deleted out of the totals (Quay's GC does, with quota
 * management on): from each namespace (resp. repository), the bytes of the blobs they
 * reference that no other manifest there references. Call before their manifestblob
 * rows go. Every total row concerned is locked first (namespaces, then repositories,
 * each in id order, as the push path does), incomplete ones too, so a backfill cannot
 * count the manifests while this deletes them.
 */
export async function subtractManifestsFromTotals(sql: Queryable, manifestIds: readonly number[]): Promise<void> {
  if (manifestIds.length === 0) return;
  const ids = intArray(manifestIds);
  const owners = await sql.query<{ namespace_id: number; repository_id: number }>(
    `SELECT DISTINCT r.namespace_user_id AS namespace_id, m.repository_id FROM manifest m JOIN repository r ON r.id = m.repository_id
     WHERE m.id = ANY($1::int[])`,
    [ids],
  );
  await sql.query(`SELECT 1 FROM quotanamespacesize WHERE namespace_user_id = ANY($1::int[]) ORDER BY namespace_user_id FOR UPDATE`, [
    intArray(owners.rows.map((o) => o.namespace_id)),
  ]);
  await sql.query(`SELECT 1 FROM quotarepositorysize WHERE repository_id = ANY($1::int[]) ORDER BY repository_id FOR UPDATE`, [
    intArray(owners.rows.map((o) => o.repository_id)),
  ]);
  for (const [table, column, owner, sameOwner] of [
    ["quotanamespacesize", "namespace_user_id", "r.namespace_user_id", "ro.namespace_user_id = b.owner"],
    ["quotarepositorysize", "repository_id", "m.repository_id", "o.repository_id = b.owner"],
  ] as const) {
    await sql.query(
      `WITH b AS (SELECT DISTINCT ${owner} AS owner, mb.blob_id FROM manifest m JOIN repository r ON r.id = m.repository_id
                  JOIN manifestblob mb ON mb.manifest_id = m.id WHERE m.id = ANY($1::int[])),
            gone AS (SELECT b.owner, sum(COALESCE(s.image_size, 0)) AS bytes FROM b JOIN imagestorage s ON s.id = b.blob_id
                     WHERE NOT EXISTS (SELECT 1 FROM manifestblob o JOIN repository ro ON ro.id = o.repository_id
                                       WHERE o.blob_id = b.blob_id AND ${sameOwner} AND o.manifest_id <> ALL($1::int[]))
                     GROUP BY b.owner)
       UPDATE ${table} t SET size_bytes = CASE WHEN t.backfill_complete THEN GREATEST(t.size_bytes - gone.bytes, 0) ELSE t.size_bytes END
       FROM gone WHERE t.${column} = gone.owner`,
      [ids],
    );
  }
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
