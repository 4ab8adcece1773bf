/**
 * When each cached tag of a proxy-cache organization was last pulled: Pier's own table
 * (schema `pier`; Quay has no such record), read by eviction to pick the least recently
 * pulled tag. Written in batches by LastPulls, never on the pull path itself.
 */
import type { Queryable } from "../../core/ports/sql.js";
import { intArray, textArray } from "./arrays.js";

export interface TagPull {
  repositoryId: number;
  tag: string;
  atMs: number;
}

/**
 * Records many pulls in one statement; a row only ever moves forward in time. Pulls of
 * repositories deleted meanwhile are dropped (the join), not a foreign-key failure.
 */
export async function recordTagPulls(sql: Queryable, pulls: readonly TagPull[]): Promise<void> {
  if (pulls.length === 0) return;
  await sql.query(
    `INSERT INTO pier.proxy_tag_pull (repository_id, tag_name, last_pull_ms)
     SELECT p.repository_id, p.tag_name, max(p.at_ms)
     FROM unnest($1::int[], $2::text[], $3::bigint[]) AS p(repository_id, tag_name, at_ms)
     JOIN repository r ON r.id = p.repository_id
     GROUP BY p.repository_id, p.tag_name
     ON CONFLICT (repository_id, tag_name) DO UPDATE SET last_pull_ms = GREATEST(pier.proxy_tag_pull.last_pull_ms, EXCLUDED.last_pull_ms)`,
    [intArray(pulls.map((p) => p.repositoryId)), textArray(pulls.map((p) => p.tag)), intArray(pulls.map((p) => p.atMs))],
  );
}

/** Forgets the pull record of a tag removed from the cache. */
export async function forgetTagPull(sql: Queryable, repositoryId: number, tag: string): Promise<void> {
  await sql.query(`DELETE FROM pier.proxy_tag_pull WHERE repository_id = $1 AND tag_name = $2`, [repositoryId, tag]);
}
