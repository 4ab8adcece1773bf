/**
 * A proxy-cache organization seeded Quay's way for eviction and purge tests: images of chosen blob sizes,
 * tags at chosen times, quota limits and the proxycacheconfig row.
 */
import { MediaType } from "../../src/core/model/media-types.js";
import type { Queryable } from "../../src/core/ports/sql.js";
import { randomBytes, storeBlob, storeManifest, type SeedTarget, type StoredBlob, type StoredManifest } from "../support/quay-seed.js";

export function blob(target: SeedTarget, size: number): Promise<StoredBlob> {
  return storeBlob(target, randomBytes(size));
}

/** A manifest row referencing exactly `blobs` (sizes add up to what the test says). */
export function image(target: SeedTarget, repositoryId: number, blobs: readonly StoredBlob[]): Promise<StoredManifest> {
  const text = JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    nonce: crypto.randomUUID(),
    blobs: blobs.map((b) => b.digest),
  });
  return storeManifest(target, repositoryId, text, MediaType.ociManifest, { blobs });
}

/** An index over `children`. */
export function index(target: SeedTarget, repositoryId: number, children: readonly StoredManifest[]): Promise<StoredManifest> {
  const text = JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, nonce: crypto.randomUUID() });
  return storeManifest(target, repositoryId, text, MediaType.ociIndex, { children });
}

/** A quota of `limitBytes` with one limit of `type` at `percent`. */
export async function setQuota(sql: Queryable, namespaceId: number, limitBytes: number, percent = 100, type = "Reject"): Promise<void> {
  const { rows } = await sql.query<{ id: number }>(
    `INSERT INTO userorganizationquota (namespace_id, limit_bytes) VALUES ($1, $2)
     ON CONFLICT (namespace_id) DO UPDATE SET limit_bytes = EXCLUDED.limit_bytes RETURNING id`,
    [namespaceId, limitBytes],
  );
  await sql.query(`INSERT INTO quotalimits (quota_id, quota_type_id, percent_of_limit) SELECT $1, id, $3 FROM quotatype WHERE name = $2`, [
    rows[0]!.id,
    type,
    percent,
  ]);
}

/** A cache organization whose upstream (loopback, refused by the SSRF guard) never answers a fill: no network needed. */
export async function makeProxyCache(sql: Queryable, organizationId: number): Promise<void> {
  await sql.query(
    `INSERT INTO proxycacheconfig (organization_id, creation_date, upstream_registry, expiration_s, insecure) VALUES ($1, now(), '127.0.0.1:9/library', 86400, true)`,
    [organizationId],
  );
}

export interface TagRow {
  repository_id: number;
  name: string;
  start: number;
  end: number | null;
  hidden: boolean;
}

/** Every tag row of the namespace (ended and alive), by repository, name and start. */
export async function tagRows(sql: Queryable, namespaceId: number): Promise<TagRow[]> {
  const { rows } = await sql.query<{ repository_id: number; name: string; start: string; end: string | null; hidden: boolean }>(
    `SELECT t.repository_id, t.name, t.lifetime_start_ms::text AS start, t.lifetime_end_ms::text AS "end", t.hidden
     FROM tag t JOIN repository r ON r.id = t.repository_id WHERE r.namespace_user_id = $1
     ORDER BY t.repository_id, t.name, t.lifetime_start_ms`,
    [namespaceId],
  );
  return rows.map((r) => ({ ...r, start: Number(r.start), end: r.end === null ? null : Number(r.end) }));
}

/** Names (`repositoryId:name`) alive at `nowMs`. */
export async function aliveNames(sql: Queryable, namespaceId: number, nowMs: number): Promise<string[]> {
  return (await tagRows(sql, namespaceId)).filter((t) => t.end === null || t.end > nowMs).map((t) => `${t.repository_id}:${t.name}`);
}

/** Pier's tag invariants: no row ends before it starts, at most one alive row per name. */
export async function expectTagInvariants(sql: Queryable, namespaceId: number, nowMs: number): Promise<void> {
  const rows = await tagRows(sql, namespaceId);
  const broken = rows.filter((t) => t.end !== null && t.end <= t.start);
  if (broken.length > 0) throw new Error(`tag rows ending at or before their start: ${JSON.stringify(broken)}`);
  const alive = await aliveNames(sql, namespaceId, nowMs);
  if (new Set(alive).size !== alive.length) throw new Error(`a name has more than one alive row: ${alive.join(", ")}`);
}
