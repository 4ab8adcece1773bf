/**
 * Accounts and permissions in Quay's tables: users, robots and organizations share
 * `user`; repository roles come from direct grants, team grants and org admin teams
 * (data/model/permission.py, data/model/user.py).
 */
import type { Queryable } from "../../core/ports/sql.js";

export interface LoginUserRow {
  id: number;
  uuid: string | null;
  username: string;
  password_hash: string | null;
  enabled: boolean;
  invalid_login_attempts: number;
  last_invalid_login: Date;
}

export interface LoginAttempt extends LoginUserRow {
  /** True when this attempt may check the password (it is counted as failed until cleared). */
  reserved: boolean;
}

/**
 * A person (not an organization or robot) by username, or by e-mail as Quay allows,
 * with a password check reserved at `at` unless Quay's back-off after the recorded
 * failures (2^(n-1) s, at most `maxWaitSeconds`) still lasts. One statement: parallel
 * attempts cannot all pass the back-off before any is counted, and an unknown login
 * costs the same round trips as a known one. The row's columns are from before the reservation.
 */
export async function reserveLoginAttempt(sql: Queryable, login: string, at: Date, maxWaitSeconds: number): Promise<LoginAttempt | null> {
  const { rows } = await sql.query<LoginAttempt>(
    `WITH candidate AS (
       SELECT id FROM "user" WHERE organization = false AND robot = false AND (username = $1 OR email = $1)
       ORDER BY (username = $1) DESC LIMIT 1),
     reserved AS (
       UPDATE "user" u SET invalid_login_attempts = u.invalid_login_attempts + 1, last_invalid_login = $2
       FROM candidate WHERE u.id = candidate.id AND (u.invalid_login_attempts <= 0
         OR u.last_invalid_login + make_interval(secs => least(power(2, least(u.invalid_login_attempts - 1, 30)), $3)) <= $2)
       RETURNING u.id)
     SELECT u.id, u.uuid, u.username, u.password_hash, u.enabled, u.invalid_login_attempts, u.last_invalid_login,
            EXISTS (SELECT 1 FROM reserved) AS reserved
     FROM "user" u JOIN candidate ON candidate.id = u.id`,
    [login, at, maxWaitSeconds],
  );
  return rows[0] ?? null;
}

/** The right password was given: the attempts counted so far were not failures after all. */
export async function clearLoginFailures(sql: Queryable, userId: number): Promise<void> {
  await sql.query(`UPDATE "user" SET invalid_login_attempts = 0 WHERE id = $1 AND invalid_login_attempts <> 0`, [userId]);
}

export interface RobotRow {
  id: number;
  username: string;
  /** `robotaccounttoken.token`: Quay's encrypted field text. */
  token: string | null;
  owner_enabled: boolean;
}

/** A robot `owner+name` with its token row and whether its owner is enabled. */
export async function findRobot(sql: Queryable, username: string): Promise<RobotRow | null> {
  const { rows } = await sql.query<RobotRow>(
    `SELECT r.id, r.username, t.token, o.enabled AS owner_enabled
     FROM "user" r
     JOIN "user" o ON o.username = split_part(r.username, '+', 1)
     LEFT JOIN robotaccounttoken t ON t.robot_account_id = r.id
     WHERE r.username = $1 AND r.robot = true`,
    [username],
  );
  return rows[0] ?? null;
}

export interface AppTokenRow {
  uuid: string;
  token_secret: string;
  user_id: number;
  username: string;
  user_uuid: string | null;
  user_enabled: boolean;
}

/** An app-specific token by its 60-character name, if unexpired at `now`. */
export async function findAppToken(sql: Queryable, tokenName: string, now: Date): Promise<AppTokenRow | null> {
  const { rows } = await sql.query<AppTokenRow>(
    `SELECT a.uuid, a.token_secret, a.user_id, u.username, u.uuid AS user_uuid, u.enabled AS user_enabled
     FROM appspecificauthtoken a JOIN "user" u ON u.id = a.user_id
     WHERE a.token_name = $1 AND (a.expiration IS NULL OR a.expiration > $2)`,
    [tokenName, now],
  );
  return rows[0] ?? null;
}

export async function touchAppToken(sql: Queryable, uuid: string, now: Date): Promise<void> {
  await sql.query(`UPDATE appspecificauthtoken SET last_accessed = $2 WHERE uuid = $1`, [uuid, now]);
}

export interface RepositoryAccessRow {
  repository_id: number | null;
  visibility: string | null;
  kind: string | null;
  state: number | null;
  namespace_id: number | null;
  namespace_enabled: boolean | null;
  namespace_is_org: boolean | null;
  /** 3 admin, 2 write, 1 read, null none — from direct and team grants on the repository. */
  repository_role: number | null;
  /** The entity is in a team of the namespace organization with the admin team role. */
  org_admin: boolean;
  /** The entity is in a team of the namespace organization with the creator team role. */
  org_creator: boolean;
  /** The entity is in any team of the namespace organization. */
  org_member: boolean;
  /** The namespace has a proxycacheconfig row (a cache organization when the feature is on). */
  proxy_cache: boolean;
  /** The entity is the repository's mirror robot (repomirrorconfig.internal_robot_id). */
  mirror_robot: boolean;
}

/**
 * What entity `$3` (a user or robot id; null for anonymous) may do in namespace `$1`
 * and repository `$2`: one row even when the repository (or namespace) does not exist.
 */
export async function findRepositoryAccess(
  sql: Queryable,
  namespace: string,
  name: string,
  entityId: number | null,
): Promise<RepositoryAccessRow> {
  const { rows } = await sql.query<RepositoryAccessRow>(
    `WITH ns AS (SELECT id, enabled, organization FROM "user" WHERE username = $1),
     repo AS (
       SELECT r.id, v.name AS visibility, k.name AS kind, r.state FROM repository r
       JOIN ns ON ns.id = r.namespace_user_id
       JOIN visibility v ON v.id = r.visibility_id
       JOIN repositorykind k ON k.id = r.kind_id
       WHERE r.name = $2 AND r.state <> 3),
     org_roles AS (
       SELECT tr.name FROM team t JOIN teamrole tr ON tr.id = t.role_id JOIN teammember tm ON tm.team_id = t.id
       WHERE t.organization_id = (SELECT id FROM ns) AND tm.user_id = $3::int)
     SELECT repo.id AS repository_id, repo.visibility, repo.kind, repo.state,
            ns.id AS namespace_id, ns.enabled AS namespace_enabled, ns.organization AS namespace_is_org,
            (SELECT max(CASE ro.name WHEN 'admin' THEN 3 WHEN 'write' THEN 2 WHEN 'read' THEN 1 END)
             FROM (SELECT rp.role_id FROM repositorypermission rp WHERE rp.repository_id = repo.id AND rp.user_id = $3::int
                   UNION ALL
                   SELECT rp.role_id FROM repositorypermission rp JOIN teammember tm ON tm.team_id = rp.team_id
                   WHERE rp.repository_id = repo.id AND tm.user_id = $3::int) p
             JOIN role ro ON ro.id = p.role_id) AS repository_role,
            EXISTS (SELECT 1 FROM org_roles WHERE name = 'admin') AS org_admin,
            EXISTS (SELECT 1 FROM org_roles WHERE name = 'creator') AS org_creator,
            EXISTS (SELECT 1 FROM org_roles) AS org_member,
            EXISTS (SELECT 1 FROM proxycacheconfig p WHERE p.organization_id = ns.id) AS proxy_cache,
            EXISTS (SELECT 1 FROM repomirrorconfig m WHERE m.repository_id = repo.id AND m.internal_robot_id = $3::int) AS mirror_robot
     FROM (SELECT 1) one LEFT JOIN ns ON true LEFT JOIN repo ON true`,
    [namespace, name, entityId],
  );
  return rows[0]!;
}

export interface AccessTokenRow {
  token_code: string;
  repository_id: number;
  role: string;
  namespace_id: number;
}

/** A legacy repository access token (`$token`) by its 32-character name. */
export async function findAccessToken(sql: Queryable, tokenName: string): Promise<AccessTokenRow | null> {
  const { rows } = await sql.query<AccessTokenRow>(
    `SELECT t.token_code, t.repository_id, ro.name AS role, r.namespace_user_id AS namespace_id
     FROM accesstoken t JOIN role ro ON ro.id = t.role_id JOIN repository r ON r.id = t.repository_id
     WHERE t.token_name = $1 AND r.state <> 3`,
    [tokenName],
  );
  return rows[0] ?? null;
}
