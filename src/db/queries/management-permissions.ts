/**
 * Repository permissions of users, robots and teams (`repositorypermission`, roles
 * resolved by name) and organizations' default permissions (`permissionprototype`),
 * as data/model/permission.py reads and writes them.
 */
import type { Queryable } from "../../core/ports/sql.js";

export interface UserPermissionRow {
  user_id: number;
  username: string;
  email: string;
  robot: boolean;
  role: string;
}

const USER_PERMISSION = `SELECT u.id AS user_id, u.username, u.email, u.robot, ro.name AS role
  FROM repositorypermission rp JOIN "user" u ON u.id = rp.user_id JOIN role ro ON ro.id = rp.role_id`;

export async function listUserPermissions(sql: Queryable, repositoryId: number): Promise<UserPermissionRow[]> {
  const { rows } = await sql.query<UserPermissionRow>(`${USER_PERMISSION} WHERE rp.repository_id = $1 ORDER BY u.username`, [repositoryId]);
  return rows;
}

export async function findUserPermission(sql: Queryable, repositoryId: number, username: string): Promise<UserPermissionRow | null> {
  const { rows } = await sql.query<UserPermissionRow>(`${USER_PERMISSION} WHERE rp.repository_id = $1 AND u.username = $2`, [
    repositoryId,
    username,
  ]);
  return rows[0] ?? null;
}

/** Of `userIds`, those in at least one team of organization `orgId`. */
export async function findOrgMemberIds(sql: Queryable, orgId: number, userIds: readonly number[]): Promise<Set<number>> {
  if (userIds.length === 0) return new Set();
  const { rows } = await sql.query<{ user_id: number }>(
    `SELECT DISTINCT tm.user_id FROM teammember tm JOIN team t ON t.id = tm.team_id
     WHERE t.organization_id = $1 AND tm.user_id = ANY($2::int[])`,
    [orgId, `{${userIds.join(",")}}`],
  );
  return new Set(rows.map((r) => r.user_id));
}

/** Who a repository grant is for: a user or robot (`user_id`), or a team (`team_id`). */
type Grantee = "user_id" | "team_id";

/** Sets a grantee's role on a repository, creating the grant when missing. */
async function upsertPermission(sql: Queryable, repositoryId: number, grantee: Grantee, id: number, role: string): Promise<void> {
  const { rowCount } = await sql.query(
    `UPDATE repositorypermission SET role_id = (SELECT id FROM role WHERE name = $3) WHERE repository_id = $1 AND ${grantee} = $2`,
    [repositoryId, id, role],
  );
  if (rowCount === 0) {
    await sql.query(`INSERT INTO repositorypermission (${grantee}, repository_id, role_id) SELECT $2, $1, id FROM role WHERE name = $3`, [
      repositoryId,
      id,
      role,
    ]);
  }
}

async function deletePermission(sql: Queryable, repositoryId: number, grantee: Grantee, id: number): Promise<boolean> {
  const { rowCount } = await sql.query(`DELETE FROM repositorypermission WHERE repository_id = $1 AND ${grantee} = $2`, [repositoryId, id]);
  return rowCount > 0;
}

/** Removes every repository grant of a grantee; returns the repositories (`ns/name`) whose grants changed. */
export async function deleteGrantsOf(sql: Queryable, grantee: Grantee, id: number): Promise<string[]> {
  const { rows } = await sql.query<{ full_name: string }>(
    `DELETE FROM repositorypermission rp USING repository r, "user" n
     WHERE rp.${grantee} = $1 AND r.id = rp.repository_id AND n.id = r.namespace_user_id
     RETURNING n.username || '/' || r.name AS full_name`,
    [id],
  );
  return rows.map((r) => r.full_name);
}

/** Sets the role of a user (or robot) on a repository, creating the grant when missing. */
export function upsertUserPermission(sql: Queryable, repositoryId: number, userId: number, role: string): Promise<void> {
  return upsertPermission(sql, repositoryId, "user_id", userId, role);
}

export function deleteUserPermission(sql: Queryable, repositoryId: number, userId: number): Promise<boolean> {
  return deletePermission(sql, repositoryId, "user_id", userId);
}

export interface TeamPermissionRow {
  team_id: number;
  team: string;
  role: string;
}

const TEAM_PERMISSION = `SELECT t.id AS team_id, t.name AS team, ro.name AS role
  FROM repositorypermission rp JOIN team t ON t.id = rp.team_id JOIN role ro ON ro.id = rp.role_id`;

export async function listTeamPermissions(sql: Queryable, repositoryId: number): Promise<TeamPermissionRow[]> {
  const { rows } = await sql.query<TeamPermissionRow>(`${TEAM_PERMISSION} WHERE rp.repository_id = $1 ORDER BY t.name`, [repositoryId]);
  return rows;
}

export async function findTeamPermission(sql: Queryable, repositoryId: number, team: string): Promise<TeamPermissionRow | null> {
  const { rows } = await sql.query<TeamPermissionRow>(`${TEAM_PERMISSION} WHERE rp.repository_id = $1 AND t.name = $2`, [
    repositoryId,
    team,
  ]);
  return rows[0] ?? null;
}

export function upsertTeamPermission(sql: Queryable, repositoryId: number, teamId: number, role: string): Promise<void> {
  return upsertPermission(sql, repositoryId, "team_id", teamId, role);
}

export function deleteTeamPermission(sql: Queryable, repositoryId: number, teamId: number): Promise<boolean> {
  return deletePermission(sql, repositoryId, "team_id", teamId);
}

export interface PrototypeRow {
  activating_user_id: number | null;
  delegate_user_id: number | null;
  delegate_username: string | null;
  delegate_team_id: number | null;
  delegate_team: string | null;
  role: string;
}

/** The organization's default permissions that apply when `creatorId` creates a repository. */
export async function listApplicablePrototypes(sql: Queryable, orgId: number, creatorId: number): Promise<PrototypeRow[]> {
  const { rows } = await sql.query<PrototypeRow>(
    `SELECT p.activating_user_id, p.delegate_user_id, du.username AS delegate_username, p.delegate_team_id,
            dt.name AS delegate_team, ro.name AS role
     FROM permissionprototype p JOIN role ro ON ro.id = p.role_id
     LEFT JOIN "user" du ON du.id = p.delegate_user_id LEFT JOIN team dt ON dt.id = p.delegate_team_id
     WHERE p.org_id = $1 AND (p.activating_user_id = $2 OR p.activating_user_id IS NULL) ORDER BY p.id`,
    [orgId, creatorId],
  );
  return rows;
}
