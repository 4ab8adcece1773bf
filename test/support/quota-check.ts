/**
 * Quota totals as recorded (quotanamespacesize / quotarepositorysize) next to the same
 * totals recomputed here from the manifestblob rows, independently of the production
 * SQL: the sum of image_size over the DISTINCT blobs the namespace's (resp. each
 * repository's) manifests reference. Tests compare the two after any sequence of writes.
 */
import { expect } from "vitest";
import type { Queryable } from "../../src/core/ports/sql.js";

export interface QuotaTotals {
  /** The namespace's total; null when it has no row, `incomplete` while a backfill is pending. */
  namespace: number | null | "incomplete";
  /** Each live repository's total by name, the same way. */
  repositories: Record<string, number | null | "incomplete">;
}

function recordedValue(row: { size: string | null; complete: boolean | null } | undefined): number | null | "incomplete" {
  if (!row || row.size === null) return null;
  return row.complete ? Number(row.size) : "incomplete";
}

/** What the totals tables say for a namespace and its repositories (not marked for deletion). */
export async function recordedTotals(sql: Queryable, namespaceId: number): Promise<QuotaTotals> {
  const ns = await sql.query<{ size: string | null; complete: boolean | null }>(
    `SELECT size_bytes::text AS size, backfill_complete AS complete FROM quotanamespacesize WHERE namespace_user_id = $1`,
    [namespaceId],
  );
  const repos = await sql.query<{ name: string; size: string | null; complete: boolean | null }>(
    `SELECT r.name, q.size_bytes::text AS size, q.backfill_complete AS complete
     FROM repository r LEFT JOIN quotarepositorysize q ON q.repository_id = r.id
     WHERE r.namespace_user_id = $1 AND r.state <> 3 ORDER BY r.name`,
    [namespaceId],
  );
  return {
    namespace: recordedValue(ns.rows[0]),
    repositories: Object.fromEntries(repos.rows.map((row) => [row.name, recordedValue(row)])),
  };
}

/** The totals recomputed from scratch: every blob counted once per namespace and once per repository. */
export async function recomputedTotals(sql: Queryable, namespaceId: number): Promise<QuotaTotals> {
  const { rows } = await sql.query<{ repository: string; blob_id: number; size: string | null }>(
    `SELECT r.name AS repository, mb.blob_id, s.image_size::text AS size
     FROM manifestblob mb JOIN repository r ON r.id = mb.repository_id JOIN imagestorage s ON s.id = mb.blob_id
     WHERE r.namespace_user_id = $1`,
    [namespaceId],
  );
  const names = await sql.query<{ name: string }>(`SELECT name FROM repository WHERE namespace_user_id = $1 AND state <> 3 ORDER BY name`, [
    namespaceId,
  ]);
  const namespaceBlobs = new Map<number, number>();
  const repositoryBlobs = new Map<string, Map<number, number>>(names.rows.map((row) => [row.name, new Map()]));
  for (const row of rows) {
    const size = Number(row.size ?? 0);
    namespaceBlobs.set(row.blob_id, size);
    repositoryBlobs.get(row.repository)?.set(row.blob_id, size);
  }
  const sum = (blobs: Map<number, number>) => [...blobs.values()].reduce((total, size) => total + size, 0);
  return {
    namespace: sum(namespaceBlobs),
    repositories: Object.fromEntries([...repositoryBlobs].map(([name, blobs]) => [name, sum(blobs)])),
  };
}

/** Asserts the recorded totals of a namespace and all its repositories equal a from-scratch recomputation. */
export async function expectTotalsTrue(sql: Queryable, namespaceId: number): Promise<QuotaTotals> {
  const recomputed = await recomputedTotals(sql, namespaceId);
  const recorded = await recordedTotals(sql, namespaceId);
  // A repository that never held a manifest has no row yet (Quay creates it with the first): that is 0.
  for (const [name, size] of Object.entries(recorded.repositories)) {
    if (size === null && recomputed.repositories[name] === 0) recorded.repositories[name] = 0;
  }
  expect(recorded).toEqual(recomputed);
  return recomputed;
}
