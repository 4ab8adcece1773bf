/**
 * Auto-prune rows (data/model/autoprune.py, data/model/oci/tag.py): namespace and
 * repository policies, the per-namespace task status, and the tags a policy prunes.
 */
import { textArray } from "./arrays.js";
import { SqlError, type Queryable, type SqlParam } from "../../core/ports/sql.js";

/** Quay's RepositoryState.NORMAL: the only state the worker prunes. */
const NORMAL = 0;
/** Cosign signature, attestation and SBOM tags (`sha256-<hex>.sig|att|sbom`): never pruned. */
const COSIGN_TAG = String.raw`^sha256-[a-f0-9]{64}\.(sig|att|sbom)$`;
/** SQLSTATE invalid_regular_expression. */
const INVALID_REGEX = "2201B";

export interface PolicyRow {
  uuid: string;
  policy: string;
}

export type PolicyScope = { kind: "namespace"; namespaceId: number } | { kind: "repository"; namespaceId: number; repositoryId: number };

function table(scope: PolicyScope): { name: string; owner: string; ownerId: number } {
  return scope.kind === "namespace"
    ? { name: "namespaceautoprunepolicy", owner: "namespace_id", ownerId: scope.namespaceId }
    : { name: "repositoryautoprunepolicy", owner: "repository_id", ownerId: scope.repositoryId };
}

/** The scope's policies, oldest first. */
export async function listPolicies(sql: Queryable, scope: PolicyScope): Promise<PolicyRow[]> {
  const t = table(scope);
  const { rows } = await sql.query<PolicyRow>(`SELECT uuid, policy FROM ${t.name} WHERE ${t.owner} = $1 ORDER BY id`, [t.ownerId]);
  return rows;
}

export async function findPolicy(sql: Queryable, scope: PolicyScope, uuid: string): Promise<PolicyRow | null> {
  const t = table(scope);
  const { rows } = await sql.query<PolicyRow>(`SELECT uuid, policy FROM ${t.name} WHERE ${t.owner} = $1 AND uuid = $2`, [t.ownerId, uuid]);
  return rows[0] ?? null;
}

/** Serialises policy writes of one scope (the duplicate check must see a racing create). */
export async function lockPolicies(tx: Queryable, scope: PolicyScope): Promise<void> {
  const t = table(scope);
  await tx.query(`SELECT pg_advisory_xact_lock(hashtext($1), $2)`, [t.name, t.ownerId]);
}

export async function insertPolicy(tx: Queryable, scope: PolicyScope, uuid: string, policy: string): Promise<void> {
  if (scope.kind === "namespace") {
    await tx.query(`INSERT INTO namespaceautoprunepolicy (uuid, namespace_id, policy) VALUES ($1, $2, $3)`, [
      uuid,
      scope.namespaceId,
      policy,
    ]);
  } else {
    await tx.query(`INSERT INTO repositoryautoprunepolicy (uuid, repository_id, namespace_id, policy) VALUES ($1, $2, $3, $4)`, [
      uuid,
      scope.repositoryId,
      scope.namespaceId,
      policy,
    ]);
  }
}

/** True when the policy existed and now holds `policy`. */
export async function updatePolicy(tx: Queryable, scope: PolicyScope, uuid: string, policy: string): Promise<boolean> {
  const t = table(scope);
  const { rowCount } = await tx.query(`UPDATE ${t.name} SET policy = $3 WHERE ${t.owner} = $1 AND uuid = $2`, [t.ownerId, uuid, policy]);
  return (rowCount ?? 0) > 0;
}

/** True when the policy existed. */
export async function deletePolicy(tx: Queryable, scope: PolicyScope, uuid: string): Promise<boolean> {
  const t = table(scope);
  const { rowCount } = await tx.query(`DELETE FROM ${t.name} WHERE ${t.owner} = $1 AND uuid = $2`, [t.ownerId, uuid]);
  return (rowCount ?? 0) > 0;
}

/** Quay's create_task: a `queued` task for the namespace unless one exists. */
export async function ensureTask(tx: Queryable, namespaceId: number): Promise<void> {
  await tx.query(
    `INSERT INTO autoprunetaskstatus (namespace_id, last_ran_ms, status) VALUES ($1, NULL, 'queued') ON CONFLICT (namespace_id) DO NOTHING`,
    [namespaceId],
  );
}

/** Whether PostgreSQL's `~` accepts `pattern` (asked outside any transaction: the error would abort it). */
export async function isValidTagPattern(sql: Queryable, pattern: string): Promise<boolean> {
  try {
    await sql.query(`SELECT '' ~ $1`, [pattern]);
    return true;
  } catch (error) {
    if (error instanceof SqlError && error.code === INVALID_REGEX) return false;
    throw error;
  }
}

export interface ClaimedTask {
  id: number;
  namespace_id: number;
  namespace: string;
}

const DUE = `FROM autoprunetaskstatus t JOIN "user" u ON u.id = t.namespace_id
  WHERE t.namespace_id NOT IN (SELECT id FROM "user" WHERE enabled = false) AND (t.last_ran_ms < $1 OR t.last_ran_ms IS NULL)
  ORDER BY t.last_ran_ms ASC NULLS FIRST, t.id`;

/**
 * Quay's get_namespace_autoprune_task: the least recently run task of an enabled
 * namespace not run within the interval, claimed with SKIP LOCKED and marked running.
 */
export async function claimTask(tx: Queryable, nowMs: number, intervalMs: number): Promise<ClaimedTask | null> {
  const { rows } = await tx.query<ClaimedTask>(
    `SELECT t.id, t.namespace_id, u.username AS namespace ${DUE} LIMIT 1 FOR UPDATE OF t SKIP LOCKED`,
    [nowMs - intervalMs],
  );
  const task = rows[0];
  if (!task) return null;
  await tx.query(`UPDATE autoprunetaskstatus SET last_ran_ms = $2, status = 'running' WHERE id = $1`, [task.id, nowMs]);
  return task;
}

/** The tasks a claim would take next, without claiming them (dry runs). */
export async function listDueTasks(sql: Queryable, nowMs: number, intervalMs: number, limit: number): Promise<ClaimedTask[]> {
  const { rows } = await sql.query<ClaimedTask>(`SELECT t.id, t.namespace_id, u.username AS namespace ${DUE} LIMIT $2`, [
    nowMs - intervalMs,
    limit,
  ]);
  return rows;
}

export async function setTaskStatus(sql: Queryable, taskId: number, status: string, lastRanMs?: number | null): Promise<void> {
  if (lastRanMs === undefined) {
    await sql.query(`UPDATE autoprunetaskstatus SET status = $2 WHERE id = $1`, [taskId, status]);
  } else {
    await sql.query(`UPDATE autoprunetaskstatus SET status = $2, last_ran_ms = $3 WHERE id = $1`, [taskId, status, lastRanMs]);
  }
}

export async function deleteTask(sql: Queryable, taskId: number): Promise<void> {
  await sql.query(`DELETE FROM autoprunetaskstatus WHERE id = $1`, [taskId]);
}

/** Every repository policy of a namespace's live repositories. */
export async function listNamespaceRepositoryPolicies(
  sql: Queryable,
  namespaceId: number,
): Promise<{ repository_id: number; name: string; policy: string }[]> {
  const { rows } = await sql.query<{ repository_id: number; name: string; policy: string }>(
    `SELECT p.repository_id, r.name, p.policy FROM repositoryautoprunepolicy p JOIN repository r ON r.id = p.repository_id
     WHERE p.namespace_id = $1 AND r.state = ${NORMAL} ORDER BY p.id`,
    [namespaceId],
  );
  return rows;
}

/** A page of the namespace's repositories in state NORMAL, by id. */
export async function listNormalRepositories(
  sql: Queryable,
  namespaceId: number,
  afterId: number,
  limit: number,
): Promise<{ id: number; name: string }[]> {
  const { rows } = await sql.query<{ id: number; name: string }>(
    `SELECT id, name FROM repository WHERE namespace_user_id = $1 AND state = ${NORMAL} AND id > $2 ORDER BY id LIMIT $3`,
    [namespaceId, afterId, limit],
  );
  return rows;
}

/** A page of enabled, non-robot namespaces by id (the registry-wide default policy's pass). */
export async function listEnabledNamespaces(sql: Queryable, afterId: number, limit: number): Promise<{ id: number; username: string }[]> {
  const { rows } = await sql.query<{ id: number; username: string }>(
    `SELECT id, username FROM "user" WHERE enabled = true AND robot = false AND id > $1 ORDER BY id LIMIT $2`,
    [afterId, limit],
  );
  return rows;
}

export interface PruneCandidate {
  name: string;
  manifest_id: number;
}

export interface CandidateQuery {
  repositoryId: number;
  nowMs: number;
  pattern: string | null;
  patternMatches: boolean;
  limit: number;
  /** Names already handled in this pass (pruned in a dry run, or skipped): counted as gone. */
  excluding: readonly string[];
}

function candidateFilter(query: CandidateQuery, params: SqlParam[]): string {
  params.push(query.repositoryId, query.nowMs);
  let where = `repository_id = $1 AND (lifetime_end_ms IS NULL OR lifetime_end_ms > $2) AND hidden = false AND immutable = false
    AND name !~ '${COSIGN_TAG}'`;
  if (query.pattern !== null) {
    params.push(query.pattern);
    where += query.patternMatches ? ` AND name ~ $${params.length}` : ` AND NOT (name ~ $${params.length})`;
  }
  if (query.excluding.length > 0) {
    params.push(textArray(query.excluding));
    where += ` AND NOT (name = ANY($${params.length}::text[]))`;
  }
  return where;
}

/** number_of_tags: a page of the candidates after the newest `keep` (by lifetime_start_ms). */
export async function tagsBeyondCount(sql: Queryable, query: CandidateQuery, keep: number): Promise<PruneCandidate[]> {
  const params: SqlParam[] = [];
  const where = candidateFilter(query, params);
  params.push(keep, query.limit);
  const { rows } = await sql.query<PruneCandidate>(
    `SELECT name, manifest_id FROM tag WHERE ${where}
     ORDER BY lifetime_start_ms DESC, id DESC OFFSET $${params.length - 1} LIMIT $${params.length}`,
    params,
  );
  return rows;
}

/** creation_date: a page of the candidates older than `ageMs`. */
export async function tagsOlderThan(sql: Queryable, query: CandidateQuery, ageMs: number): Promise<PruneCandidate[]> {
  const params: SqlParam[] = [];
  const where = candidateFilter(query, params);
  params.push(ageMs, query.limit);
  const n = params.length;
  const { rows } = await sql.query<PruneCandidate>(
    `SELECT name, manifest_id FROM tag WHERE ${where} AND $2::bigint - lifetime_start_ms > $${n - 1}
     ORDER BY lifetime_start_ms, id LIMIT $${n}`,
    params,
  );
  return rows;
}
