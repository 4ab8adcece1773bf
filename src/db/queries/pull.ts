/**
 * The queries of the pull path, written against Quay's schema the way Quay resolves
 * pulls (data/model/oci/*.py). Each lookup is ONE statement that also returns the
 * repository, so a cold read costs one round trip to the database.
 */
import type { Queryable } from "../../core/ports/sql.js";

/** Quay's RepositoryState.MARKED_FOR_DELETION: such repositories do not exist for reads. */
const MARKED_FOR_DELETION = 3;
/** Stand-in for "no end" when comparing lifetimes (Postgres bigint maximum). */
const NO_END = "9223372036854775807";

export interface RepositoryRow {
  repository_id: number;
  namespace_id: number;
  visibility: string;
  kind: string;
  state: number;
  namespace_enabled: boolean;
  proxy_upstream: string | null;
}

/** The repository CTE every lookup starts from ($1 namespace, $2 repository name). */
const REPOSITORY = `
  repo AS (
    SELECT r.id AS repository_id, r.namespace_user_id AS namespace_id, v.name AS visibility, k.name AS kind,
           r.state, u.enabled AS namespace_enabled,
           (SELECT split_part(p.upstream_registry, '/', 1) FROM proxycacheconfig p WHERE p.organization_id = u.id
            ORDER BY p.id LIMIT 1) AS proxy_upstream
    FROM repository r
    JOIN "user" u ON u.id = r.namespace_user_id
    JOIN visibility v ON v.id = r.visibility_id
    JOIN repositorykind k ON k.id = r.kind_id
    WHERE u.username = $1 AND r.name = $2 AND r.state <> ${MARKED_FOR_DELETION})`;

export async function findRepository(sql: Queryable, namespace: string, name: string): Promise<RepositoryRow | null> {
  const { rows } = await sql.query<RepositoryRow>(`WITH ${REPOSITORY} SELECT * FROM repo`, [namespace, name]);
  return rows[0] ?? null;
}

export interface TaggedManifestRow extends RepositoryRow {
  digest: string | null;
  media_type: string | null;
  manifest_bytes: string | null;
  /** The alive tag's end (ms, as text), null when it never ends. */
  lifetime_end_ms: string | null;
  /** True when no alive tag exists but an expired row of that name does (Quay's TAG_EXPIRED). */
  expired: boolean;
}

/** The repository, and the manifest its alive, visible tag `$3` points at (at time `$4`). */
export async function findTaggedManifest(
  sql: Queryable,
  namespace: string,
  name: string,
  tag: string,
  nowMs: number,
): Promise<TaggedManifestRow | null> {
  const { rows } = await sql.query<TaggedManifestRow>(
    `WITH ${REPOSITORY}
     SELECT repo.*, t.digest, t.media_type, t.manifest_bytes, t.lifetime_end_ms::text AS lifetime_end_ms,
            (t.digest IS NULL AND EXISTS (
              SELECT 1 FROM tag x WHERE x.repository_id = repo.repository_id AND x.name = $3
                AND x.lifetime_end_ms IS NOT NULL AND x.lifetime_end_ms <= $4)) AS expired
     FROM repo
     LEFT JOIN LATERAL (
       SELECT m.digest, mt.name AS media_type, m.manifest_bytes, tg.lifetime_end_ms
       FROM tag tg
       JOIN manifest m ON m.id = tg.manifest_id
       JOIN mediatype mt ON mt.id = m.media_type_id
       WHERE tg.repository_id = repo.repository_id AND tg.name = $3 AND tg.hidden = false
         AND (tg.lifetime_end_ms IS NULL OR tg.lifetime_end_ms > $4)
       ORDER BY tg.lifetime_start_ms DESC
       LIMIT 1) t ON true`,
    [namespace, name, tag, nowMs],
  );
  return rows[0] ?? null;
}

export interface DigestManifestRow extends RepositoryRow {
  digest: string | null;
  media_type: string | null;
  manifest_bytes: string | null;
  subject: string | null;
  /** Latest end (ms, as text) among the alive tags that make it visible; null when none. */
  visible_until: string | null;
}

/**
 * The repository and its manifest `$3` with how long it stays visible: Quay serves a
 * manifest by digest while an alive tag (hidden ones count) points at it or at a list
 * that contains it.
 */
export async function findManifestByDigest(
  sql: Queryable,
  namespace: string,
  name: string,
  digest: string,
  nowMs: number,
): Promise<DigestManifestRow | null> {
  const { rows } = await sql.query<DigestManifestRow>(
    `WITH ${REPOSITORY}
     SELECT repo.*, m.digest, mt.name AS media_type, m.manifest_bytes, m.subject,
            (SELECT max(COALESCE(a.lifetime_end_ms, ${NO_END}))::text FROM (
               SELECT t.lifetime_end_ms FROM tag t
               WHERE t.manifest_id = m.id AND (t.lifetime_end_ms IS NULL OR t.lifetime_end_ms > $4)
               UNION ALL
               SELECT t.lifetime_end_ms FROM manifestchild mc JOIN tag t ON t.manifest_id = mc.manifest_id
               WHERE mc.repository_id = repo.repository_id AND mc.child_manifest_id = m.id
                 AND (t.lifetime_end_ms IS NULL OR t.lifetime_end_ms > $4)) a) AS visible_until
     FROM repo
     LEFT JOIN manifest m ON m.repository_id = repo.repository_id AND m.digest = $3
     LEFT JOIN mediatype mt ON mt.id = m.media_type_id`,
    [namespace, name, digest, nowMs],
  );
  return rows[0] ?? null;
}

export const NO_END_MS = NO_END;

export interface RepositoryBlobRow extends RepositoryRow {
  storage_uuid: string | null;
  image_size: string | null;
  cas_path: boolean | null;
  /** Names of the locations holding a placement of the blob (imagestorageplacement). */
  locations: string[] | null;
}

/**
 * The repository and its blob `$3`, by Quay's membership rule: linked to the repository
 * by an upload (uploadedblob, expired links included) or by a manifest (manifestblob,
 * whatever the manifest's tags). Storages without a placement are not downloadable.
 */
export async function findRepositoryBlob(
  sql: Queryable,
  namespace: string,
  name: string,
  digest: string,
): Promise<RepositoryBlobRow | null> {
  const { rows } = await sql.query<RepositoryBlobRow>(
    `WITH ${REPOSITORY}
     SELECT repo.*, s.uuid AS storage_uuid, s.image_size::text AS image_size, s.cas_path,
       (SELECT array_agg(l.name ORDER BY l.name) FROM imagestorageplacement p
        JOIN imagestoragelocation l ON l.id = p.location_id WHERE p.storage_id = s.id) AS locations
     FROM repo
     LEFT JOIN LATERAL (
       SELECT s.id, s.uuid, s.image_size, s.cas_path FROM (
         (SELECT s.id, s.uuid, s.image_size, s.cas_path, 0 AS rank FROM imagestorage s
          JOIN uploadedblob ub ON ub.blob_id = s.id
          WHERE ub.repository_id = repo.repository_id AND s.content_checksum = $3 LIMIT 1)
         UNION ALL
         (SELECT s.id, s.uuid, s.image_size, s.cas_path, 1 AS rank FROM imagestorage s
          JOIN manifestblob mb ON mb.blob_id = s.id
          WHERE mb.repository_id = repo.repository_id AND s.content_checksum = $3 LIMIT 1)) s
       WHERE EXISTS (SELECT 1 FROM imagestorageplacement p WHERE p.storage_id = s.id)
       ORDER BY s.rank
       LIMIT 1) s ON true`,
    [namespace, name, digest],
  );
  return rows[0] ?? null;
}

/** Names of alive, visible tags after `last`, in byte order, at most `limit` (Quay's tags/list). */
export async function listTags(sql: Queryable, repositoryId: number, last: string | null, limit: number, nowMs: number): Promise<string[]> {
  const { rows } = await sql.query<{ name: string }>(
    `SELECT name FROM (
       SELECT DISTINCT name FROM tag
       WHERE repository_id = $1 AND hidden = false AND (lifetime_end_ms IS NULL OR lifetime_end_ms > $2)
         AND ($3::varchar IS NULL OR name COLLATE "C" > $3::varchar COLLATE "C")) t
     ORDER BY name COLLATE "C"
     LIMIT $4`,
    [repositoryId, nowMs, last, limit],
  );
  return rows.map((r) => r.name);
}

/**
 * Full names (`ns/repo`) of the image repositories a caller sees in `_catalog`, after
 * `last`, in byte order — one statement per page. `username` (null: anonymous) sees its
 * own namespace, repositories it or one of its teams has a role on, and every repository
 * of organizations it administers; `includePublic` adds the public ones. A disabled
 * caller sees nothing of its own.
 */
export async function listCatalog(
  sql: Queryable,
  viewer: { username: string | null; includePublic: boolean },
  last: string | null,
  limit: number,
): Promise<string[]> {
  const { rows } = await sql.query<{ full_name: string }>(
    `WITH me AS (SELECT id FROM "user" WHERE username = $3 AND enabled)
     SELECT u.username || '/' || r.name AS full_name
     FROM repository r
     JOIN "user" u ON u.id = r.namespace_user_id
     JOIN visibility v ON v.id = r.visibility_id
     JOIN repositorykind k ON k.id = r.kind_id
     WHERE k.name = 'image' AND r.state <> ${MARKED_FOR_DELETION} AND u.enabled
       AND (($4 AND v.name = 'public')
         OR u.id = (SELECT id FROM me)
         OR EXISTS (SELECT 1 FROM repositorypermission rp WHERE rp.repository_id = r.id AND rp.user_id = (SELECT id FROM me))
         OR EXISTS (SELECT 1 FROM repositorypermission rp JOIN teammember tm ON tm.team_id = rp.team_id
                    WHERE rp.repository_id = r.id AND tm.user_id = (SELECT id FROM me))
         OR EXISTS (SELECT 1 FROM team t JOIN teamrole tr ON tr.id = t.role_id JOIN teammember tm ON tm.team_id = t.id
                    WHERE t.organization_id = u.id AND tr.name = 'admin' AND tm.user_id = (SELECT id FROM me)))
       AND ($1::varchar IS NULL OR (u.username || '/' || r.name) COLLATE "C" > $1::varchar COLLATE "C")
     ORDER BY (u.username || '/' || r.name) COLLATE "C"
     LIMIT $2`,
    [last, limit, viewer.username, viewer.includePublic],
  );
  return rows.map((r) => r.full_name);
}

export interface ReferrerRow {
  digest: string;
  media_type: string;
  manifest_bytes: string;
  artifact_type: string | null;
}

/** Manifests of a repository whose `subject` is `digest` (Quay: no liveness filter). */
export async function listReferrers(sql: Queryable, repositoryId: number, digest: string): Promise<ReferrerRow[]> {
  const { rows } = await sql.query<ReferrerRow>(
    `SELECT m.digest, mt.name AS media_type, m.manifest_bytes, m.artifact_type
     FROM manifest m JOIN mediatype mt ON mt.id = m.media_type_id
     WHERE m.repository_id = $1 AND m.subject = $2
     ORDER BY m.id`,
    [repositoryId, digest],
  );
  return rows;
}
