/**
 * Teams of organizations and their members, in Quay's `team`, `teamrole` and
 * `teammember` tables (data/model/team.py). Team roles are resolved by name.
 */
import type { Queryable } from "../../core/ports/sql.js";
import { deleteGrantsOf } from "./management-permissions.js";

/** The caller's teams in organization `org` with each team's role (Quay's get_org_wide_permissions). */
export async function findCallerTeams(sql: Queryable, userId: number, org: string): Promise<{ name: string; role: string }[]> {
  const { rows } = await sql.query<{ name: string; role: string }>(
    `SELECT t.name, tr.name AS role FROM team t
     JOIN teamrole tr ON tr.id = t.role_id
     JOIN "user" o ON o.id = t.organization_id
     JOIN teammember tm ON tm.team_id = t.id
     WHERE o.username = $1 AND o.organization = true AND tm.user_id = $2`,
    [org, userId],
  );
  return rows;
}

export interface TeamRow {
  id: number;
  name: string;
  description: string;
  role: string;
  organization_id: number;
}

export async function findTeam(sql: Queryable, orgId: number, name: string): Promise<TeamRow | null> {
  const { rows } = await sql.query<TeamRow>(
    `SELECT t.id, t.name, t.description, tr.name AS role, t.organization_id
     FROM team t JOIN teamrole tr ON tr.id = t.role_id WHERE t.organization_id = $1 AND t.name = $2`,
    [orgId, name],
  );
  return rows[0] ?? null;
}

export async function insertTeam(sql: Queryable, orgId: number, name: string, role: string, description: string): Promise<TeamRow> {
  const { rows } = await sql.query<TeamRow>(
    `INSERT INTO team (name, organization_id, role_id, description)
     SELECT $1, $2, tr.id, $4 FROM teamrole tr WHERE tr.name = $3
     RETURNING id, name, description, $3::text AS role, organization_id`,
    [name, orgId, role, description],
  );
  return rows[0]!;
}

export async function updateTeam(sql: Queryable, teamId: number, changes: { role?: string; description?: string }): Promise<void> {
  if (changes.description !== undefined) await sql.query(`UPDATE team SET description = $2 WHERE id = $1`, [teamId, changes.description]);
  if (changes.role !== undefined) {
    await sql.query(`UPDATE team SET role_id = (SELECT id FROM teamrole WHERE name = $2 LIMIT 1) WHERE id = $1`, [teamId, changes.role]);
  }
}

/** Names of the admin-role teams of `orgId` that `userId` belongs to. */
export async function findAdminTeamsOf(sql: Queryable, orgId: number, userId: number): Promise<string[]> {
  const { rows } = await sql.query<{ name: string }>(
    `SELECT t.name FROM team t JOIN teamrole tr ON tr.id = t.role_id JOIN teammember tm ON tm.team_id = t.id
     WHERE t.organization_id = $1 AND tm.user_id = $2 AND tr.name = 'admin'`,
    [orgId, userId],
  );
  return rows.map((r) => r.name);
}

export interface TeamSummaryRow extends TeamRow {
  repo_count: number;
  member_count: number;
  is_synced: boolean;
}

/** Every team of an organization with its permission and member counts (Quay's get_teams_within_org). */
export async function listTeams(sql: Queryable, orgId: number): Promise<TeamSummaryRow[]> {
  const { rows } = await sql.query<TeamSummaryRow>(
    `SELECT t.id, t.name, t.description, tr.name AS role, t.organization_id,
            (SELECT count(*)::int FROM repositorypermission rp WHERE rp.team_id = t.id) AS repo_count,
            (SELECT count(*)::int FROM teammember tm WHERE tm.team_id = t.id) AS member_count,
            EXISTS (SELECT 1 FROM teamsync ts WHERE ts.team_id = t.id) AS is_synced
     FROM team t JOIN teamrole tr ON tr.id = t.role_id WHERE t.organization_id = $1 ORDER BY t.id`,
    [orgId],
  );
  return rows;
}

export interface MemberRow {
  id: number;
  username: string;
  email: string;
  robot: boolean;
}

export async function listTeamMembers(sql: Queryable, teamId: number): Promise<MemberRow[]> {
  const { rows } = await sql.query<MemberRow>(
    `SELECT u.id, u.username, u.email, u.robot FROM teammember tm JOIN "user" u ON u.id = tm.user_id
     WHERE tm.team_id = $1 ORDER BY u.username`,
    [teamId],
  );
  return rows;
}

/** Pending invitations of a team: invited users, or bare e-mail addresses. */
export async function listTeamInvites(sql: Queryable, teamId: number): Promise<(MemberRow | { id: null; email: string })[]> {
  const { rows } = await sql.query<{ id: number | null; username: string | null; email: string; robot: boolean | null }>(
    `SELECT u.id, u.username, COALESCE(u.email, i.email) AS email, u.robot FROM teammemberinvite i
     LEFT JOIN "user" u ON u.id = i.user_id WHERE i.team_id = $1 ORDER BY i.id`,
    [teamId],
  );
  return rows.map((r) =>
    r.id === null ? { id: null, email: r.email } : { id: r.id, username: r.username!, email: r.email, robot: r.robot ?? false },
  );
}

export async function isTeamMember(sql: Queryable, teamId: number, userId: number): Promise<boolean> {
  const { rows } = await sql.query(`SELECT 1 FROM teammember WHERE team_id = $1 AND user_id = $2`, [teamId, userId]);
  return rows.length > 0;
}

export async function insertTeamMember(sql: Queryable, teamId: number, userId: number): Promise<void> {
  await sql.query(`INSERT INTO teammember (user_id, team_id) VALUES ($1, $2)`, [userId, teamId]);
}

export async function deleteTeamMember(sql: Queryable, teamId: number, userId: number): Promise<void> {
  await sql.query(`DELETE FROM teammember WHERE team_id = $1 AND user_id = $2`, [teamId, userId]);
}

/** Removes a user's pending invitation to a team; false when there was none. */
export async function deleteTeamInvite(sql: Queryable, teamId: number, userId: number): Promise<boolean> {
  const { rowCount } = await sql.query(`DELETE FROM teammemberinvite WHERE team_id = $1 AND user_id = $2`, [teamId, userId]);
  return rowCount > 0;
}

/**
 * Deletes a team and everything that points at it, as Quay's recursive
 * `delete_instance` does; returns the repositories (`ns/name`) whose grants changed.
 */
export async function deleteTeam(sql: Queryable, teamId: number): Promise<string[]> {
  const changed = await deleteGrantsOf(sql, "team_id", teamId);
  for (const statement of [
    `DELETE FROM teammember WHERE team_id = $1`,
    `DELETE FROM teammemberinvite WHERE team_id = $1`,
    `DELETE FROM permissionprototype WHERE delegate_team_id = $1`,
    `DELETE FROM teamsync WHERE team_id = $1`,
    `DELETE FROM team WHERE id = $1`,
  ]) {
    await sql.query(statement, [teamId]);
  }
  return changed;
}
