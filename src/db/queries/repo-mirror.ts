/**
 * Quay's repository-mirror rows (data/model/repo_mirror.py): `repomirrorconfig` with its
 * root `repomirrorrule`, the repository's MIRROR state, and Pier's per-mirror counters in
 * `pier.repo_mirror_stats`. Timestamps are Quay's naive UTC: written as ISO text cast to
 * `timestamp`, read as epoch milliseconds (and as text where Quay's API prints them), so
 * the session time zone never shifts them.
 */
import type { Queryable, SqlParam } from "../../core/ports/sql.js";
import { tableExists } from "./optional-tables.js";

/** Quay's RepositoryState.MIRROR. */
export const MIRROR_STATE = 2;
/** Quay's RepoMirrorRuleType.TAG_GLOB_CSV. */
const TAG_GLOB_CSV = 1;

export interface MirrorRow {
  id: number;
  repository_id: number;
  is_enabled: boolean;
  internal_robot_id: number;
  robot_username: string;
  external_reference: string;
  external_registry_username: string | null;
  external_registry_password: string | null;
  external_registry_config: string;
  architecture_filter: string | null;
  sync_interval: number;
  /** Epoch ms (bigint as text) or null. */
  start_ms: string | null;
  expiration_ms: string | null;
  /** PostgreSQL's text of the timestamps, for Quay's isoformat view. */
  start_text: string | null;
  expiration_text: string | null;
  sync_retries_remaining: number;
  sync_status: number;
  sync_transaction_id: string | null;
  root_rule_id: number;
  rule_value: string;
  /** BIGINT as text. */
  skopeo_timeout: string;
}

const COLUMNS = `m.id, m.repository_id, m.is_enabled, m.internal_robot_id, u.username AS robot_username, m.external_reference,
  m.external_registry_username, m.external_registry_password, m.external_registry_config, m.architecture_filter, m.sync_interval,
  (extract(epoch FROM m.sync_start_date) * 1000)::bigint::text AS start_ms,
  (extract(epoch FROM m.sync_expiration_date) * 1000)::bigint::text AS expiration_ms,
  m.sync_start_date::text AS start_text, m.sync_expiration_date::text AS expiration_text,
  m.sync_retries_remaining, m.sync_status, m.sync_transaction_id, m.root_rule_id, r.rule_value, m.skopeo_timeout::text AS skopeo_timeout`;
const JOINS = `JOIN "user" u ON u.id = m.internal_robot_id JOIN repomirrorrule r ON r.id = m.root_rule_id`;

/** `ms` as the naive-UTC text PostgreSQL casts to `timestamp`. */
export function utcText(ms: number): string {
  return new Date(ms).toISOString().replace("Z", "");
}

/** The repository's mirror configuration; `lock` takes its row lock (inside a transaction). */
export async function findMirrorConfig(sql: Queryable, repositoryId: number, lock = false): Promise<MirrorRow | null> {
  const { rows } = await sql.query<MirrorRow>(
    `SELECT ${COLUMNS} FROM repomirrorconfig m ${JOINS} WHERE m.repository_id = $1 ${lock ? "FOR UPDATE OF m" : ""}`,
    [repositoryId],
  );
  return rows[0] ?? null;
}

/** True when the repository's namespace has an organization-level mirror (the table may not exist). */
export async function namespaceHasOrgMirror(sql: Queryable, namespaceId: number): Promise<boolean> {
  if (!(await tableExists(sql, "orgmirrorconfig"))) return false;
  const { rows } = await sql.query(`SELECT 1 FROM orgmirrorconfig WHERE organization_id = $1`, [namespaceId]);
  return rows.length > 0;
}

/** `ruleValue`: the globs as Quay's JSONField text. */
export async function insertMirrorRule(sql: Queryable, repositoryId: number, ruleValue: string, nowMs: number): Promise<number> {
  const { rows } = await sql.query<{ id: number }>(
    `INSERT INTO repomirrorrule (uuid, repository_id, creation_date, rule_type, rule_value) VALUES ($1, $2, $3::timestamp, $4, $5) RETURNING id`,
    [crypto.randomUUID(), repositoryId, utcText(nowMs), TAG_GLOB_CSV, ruleValue],
  );
  return rows[0]!.id;
}

export async function updateMirrorRule(sql: Queryable, ruleId: number, ruleValue: string): Promise<void> {
  await sql.query(`UPDATE repomirrorrule SET rule_value = $2 WHERE id = $1`, [ruleId, ruleValue]);
}

export interface NewMirrorConfig {
  repositoryId: number;
  isEnabled: boolean;
  robotId: number;
  externalReference: string;
  username: string | null;
  password: string | null;
  externalRegistryConfig: string;
  architectureFilter: string;
  syncInterval: number;
  startMs: number;
  skopeoTimeout: number;
  ruleId: number;
  nowMs: number;
}

/** Quay's new config: mirror_type PULL, NEVER_RUN, three retries, a fresh transaction token. */
export async function insertMirrorConfig(sql: Queryable, row: NewMirrorConfig): Promise<void> {
  await sql.query(
    `INSERT INTO repomirrorconfig (repository_id, creation_date, is_enabled, mirror_type, internal_robot_id, external_reference,
       external_registry_username, external_registry_password, external_registry_config, architecture_filter, sync_interval,
       sync_start_date, sync_expiration_date, sync_retries_remaining, sync_status, sync_transaction_id, root_rule_id, skopeo_timeout)
     VALUES ($1, $2::timestamp, $3, 1, $4, $5, $6, $7, $8, $9, $10, $11::timestamp, NULL, 3, 0, $12, $13, $14)`,
    [
      row.repositoryId,
      utcText(row.nowMs),
      row.isEnabled,
      row.robotId,
      row.externalReference,
      row.username,
      row.password,
      row.externalRegistryConfig,
      row.architectureFilter,
      row.syncInterval,
      utcText(row.startMs),
      crypto.randomUUID(),
      row.ruleId,
      row.skopeoTimeout,
    ],
  );
}

/** Columns a configuration change may write; timestamps as epoch ms. */
export interface MirrorChanges {
  is_enabled?: boolean;
  internal_robot_id?: number;
  external_reference?: string;
  external_registry_username?: string | null;
  external_registry_password?: string | null;
  external_registry_config?: string;
  architecture_filter?: string;
  sync_interval?: number;
  sync_start_date?: number | null;
  sync_expiration_date?: number | null;
  sync_retries_remaining?: number;
  sync_status?: number;
  skopeo_timeout?: number;
}

const TIMESTAMPS = new Set(["sync_start_date", "sync_expiration_date"]);

/**
 * Writes `changes` and a new transaction token; with `token` only while the row still
 * holds it (Quay's optimistic lock). False when the token had moved on.
 */
export async function updateMirror(sql: Queryable, id: number, changes: MirrorChanges, token?: string | null): Promise<boolean> {
  const sets: string[] = [];
  const values: SqlParam[] = [id, crypto.randomUUID()];
  for (const [column, value] of Object.entries(changes)) {
    if (value === undefined) continue;
    const timestamp = TIMESTAMPS.has(column);
    values.push(timestamp && value !== null ? utcText(value as number) : (value as SqlParam));
    sets.push(`${column} = $${values.length}${timestamp ? "::timestamp" : ""}`);
  }
  let where = "id = $1";
  if (token !== undefined) {
    values.push(token);
    where += ` AND sync_transaction_id IS NOT DISTINCT FROM $${values.length}`;
  }
  const { rowCount } = await sql.query(
    `UPDATE repomirrorconfig SET ${[...sets, "sync_transaction_id = $2"].join(", ")} WHERE ${where}`,
    values,
  );
  return rowCount === 1;
}

/** The new token a claim wrote, read back (updateMirror generates it). */
export async function mirrorToken(sql: Queryable, id: number): Promise<{ token: string | null; status: number } | null> {
  const { rows } = await sql.query<{ token: string | null; status: number }>(
    `SELECT sync_transaction_id AS token, sync_status AS status FROM repomirrorconfig WHERE id = $1`,
    [id],
  );
  return rows[0] ?? null;
}

export async function setRepositoryState(sql: Queryable, repositoryId: number, state: number): Promise<void> {
  await sql.query(`UPDATE repository SET state = $2 WHERE id = $1`, [repositoryId, state]);
}

/** The robot's direct role on the repository ('read', 'write', 'admin') or null. */
export async function directRole(sql: Queryable, repositoryId: number, userId: number): Promise<string | null> {
  const { rows } = await sql.query<{ name: string }>(
    `SELECT ro.name FROM repositorypermission p JOIN role ro ON ro.id = p.role_id WHERE p.repository_id = $1 AND p.user_id = $2`,
    [repositoryId, userId],
  );
  return rows[0]?.name ?? null;
}

/** A mirror as the sync job claims it: the config plus the repository's names. */
export interface ClaimedMirror extends MirrorRow {
  namespace: string;
  namespace_id: number;
  repository: string;
}

/**
 * Claims up to `limit` due mirrors of MIRROR repositories (Quay's get_eligible_mirrors,
 * plus the reclaim of claims that expired, which Quay never does): SYNC_NOW rows, enabled
 * rows whose start has come with retries left, and SYNCING rows whose claim ran out.
 * Rows another runner holds are skipped; each claimed row turns SYNCING until
 * `claimUntilMs` with a new token, read back in the result.
 */
export async function claimDueMirrors(
  sql: Queryable,
  nowMs: number,
  claimUntilMs: number,
  limit: number,
  /** Mirror ids not to claim (those this run already synced: a failure is retried by a later run). */
  exclude: readonly number[] = [],
): Promise<ClaimedMirror[]> {
  const now = utcText(nowMs);
  const { rows } = await sql.query<{ id: number }>(
    `SELECT m.id FROM repomirrorconfig m JOIN repository r ON r.id = m.repository_id
     WHERE r.state = ${MIRROR_STATE} AND m.id <> ALL($3::int[]) AND (
       (m.sync_status = 3 AND m.sync_expiration_date IS NULL)
       OR (m.is_enabled AND m.sync_retries_remaining > 0 AND m.sync_start_date <= $1::timestamp
           AND m.sync_status NOT IN (2, -2) AND m.sync_expiration_date IS NULL)
       OR (m.sync_status = 2 AND m.sync_expiration_date <= $1::timestamp))
     ORDER BY m.sync_start_date NULLS FIRST, m.id
     LIMIT $2 FOR UPDATE OF m SKIP LOCKED`,
    [now, limit, `{${exclude.join(",")}}`],
  );
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  await sql.query(
    `UPDATE repomirrorconfig SET sync_status = 2, sync_expiration_date = $2::timestamp, sync_transaction_id = gen_random_uuid()::text
     WHERE id = ANY($1::int[])`,
    [`{${ids.join(",")}}`, utcText(claimUntilMs)],
  );
  const claimed = await sql.query<ClaimedMirror>(
    `SELECT ${COLUMNS}, n.username AS namespace, n.id AS namespace_id, repo.name AS repository
     FROM repomirrorconfig m ${JOINS} JOIN repository repo ON repo.id = m.repository_id JOIN "user" n ON n.id = repo.namespace_user_id
     WHERE m.id = ANY($1::int[]) ORDER BY m.sync_start_date NULLS FIRST, m.id`,
    [`{${ids.join(",")}}`],
  );
  return claimed.rows;
}

/** Alive, visible tag names of the repository. */
export async function aliveVisibleTags(sql: Queryable, repositoryId: number, nowMs: number): Promise<Map<string, string>> {
  const { rows } = await sql.query<{ name: string; digest: string }>(
    `SELECT t.name, m.digest FROM tag t JOIN manifest m ON m.id = t.manifest_id
     WHERE t.repository_id = $1 AND NOT t.hidden AND (t.lifetime_end_ms IS NULL OR t.lifetime_end_ms > $2)`,
    [repositoryId, nowMs],
  );
  return new Map(rows.map((r) => [r.name, r.digest]));
}

/** The repository's manifest with `digest` when it holds its bytes (not a placeholder). */
export async function findStoredManifest(sql: Queryable, repositoryId: number, digest: string): Promise<number | null> {
  const { rows } = await sql.query<{ id: number }>(
    `SELECT id FROM manifest WHERE repository_id = $1 AND digest = $2 AND manifest_bytes <> ''`,
    [repositoryId, digest],
  );
  return rows[0]?.id ?? null;
}

/** A placed storage of `digest` in any repository (what a mount-style link may reuse). */
export async function findPlacedStorage(
  sql: Queryable,
  digest: string,
  location: string,
): Promise<{ id: number; size: number | null } | null> {
  const { rows } = await sql.query<{ id: number; size: string | null }>(
    `SELECT s.id, s.image_size::text AS size FROM imagestorage s
     WHERE s.content_checksum = $1 AND s.cas_path = true AND NOT s.uploading
       AND EXISTS (SELECT 1 FROM imagestorageplacement p JOIN imagestoragelocation l ON l.id = p.location_id
                   WHERE p.storage_id = s.id AND l.name = $2)
     ORDER BY s.id LIMIT 1`,
    [digest, location],
  );
  const row = rows[0];
  return row ? { id: row.id, size: row.size === null ? null : Number(row.size) } : null;
}

/** Pier's counters of one mirror (pier.repo_mirror_stats). */
export interface MirrorStats {
  last_success_ms: string | null;
  last_failure_ms: string | null;
  last_error: string | null;
  runs: string;
  failures: string;
  tags_synced: string;
  tags_failed: string;
  tags_deleted: string;
  bytes_copied: string;
  blobs_copied: string;
  blobs_linked: string;
  run_tags_total: number;
  run_tags_done: number;
}

export async function findMirrorStats(sql: Queryable, repositoryId: number): Promise<MirrorStats | null> {
  const { rows } = await sql.query<MirrorStats>(
    `SELECT last_success_ms::text AS last_success_ms, last_failure_ms::text AS last_failure_ms, last_error, runs::text AS runs,
            failures::text AS failures, tags_synced::text AS tags_synced, tags_failed::text AS tags_failed,
            tags_deleted::text AS tags_deleted, bytes_copied::text AS bytes_copied, blobs_copied::text AS blobs_copied,
            blobs_linked::text AS blobs_linked, run_tags_total, run_tags_done
     FROM pier.repo_mirror_stats WHERE repository_id = $1`,
    [repositoryId],
  );
  return rows[0] ?? null;
}

/** Increments to a mirror's counters; `run` fields set the current run's progress. */
export interface StatsDelta {
  runs?: number;
  failures?: number;
  tagsSynced?: number;
  tagsFailed?: number;
  tagsDeleted?: number;
  bytesCopied?: number;
  blobsCopied?: number;
  blobsLinked?: number;
  runTagsTotal?: number;
  runTagsDone?: number;
  successMs?: number;
  failureMs?: number;
  error?: string | null;
}

export async function recordMirrorStats(sql: Queryable, repositoryId: number, d: StatsDelta): Promise<void> {
  await sql.query(
    `INSERT INTO pier.repo_mirror_stats AS s (repository_id, runs, failures, tags_synced, tags_failed, tags_deleted, bytes_copied,
       blobs_copied, blobs_linked, run_tags_total, run_tags_done, last_success_ms, last_failure_ms, last_error)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, COALESCE($10, 0), COALESCE($11, 0), $12, $13, $14)
     ON CONFLICT (repository_id) DO UPDATE SET
       runs = s.runs + $2, failures = s.failures + $3, tags_synced = s.tags_synced + $4, tags_failed = s.tags_failed + $5,
       tags_deleted = s.tags_deleted + $6, bytes_copied = s.bytes_copied + $7, blobs_copied = s.blobs_copied + $8,
       blobs_linked = s.blobs_linked + $9, run_tags_total = COALESCE($10, s.run_tags_total),
       run_tags_done = COALESCE($11, s.run_tags_done), last_success_ms = COALESCE($12, s.last_success_ms),
       last_failure_ms = COALESCE($13, s.last_failure_ms),
       last_error = CASE WHEN $15 THEN $14 ELSE s.last_error END`,
    [
      repositoryId,
      d.runs ?? 0,
      d.failures ?? 0,
      d.tagsSynced ?? 0,
      d.tagsFailed ?? 0,
      d.tagsDeleted ?? 0,
      d.bytesCopied ?? 0,
      d.blobsCopied ?? 0,
      d.blobsLinked ?? 0,
      d.runTagsTotal ?? null,
      d.runTagsDone ?? null,
      d.successMs ?? null,
      d.failureMs ?? null,
      d.error ?? null,
      d.error !== undefined,
    ],
  );
}
