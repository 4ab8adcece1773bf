/**
 * Repository permissions of users, robots and teams (endpoints/api/permission.py,
 * data/model/permission.py). Only repository admins see or change them; robots may be
 * granted only repositories of their own namespace; the namespace owner stays admin.
 * Every change bumps the repository's pull-cache generation after it commits.
 */
import { findNamespace } from "../../db/queries/management-accounts.js";
import {
  deleteTeamPermission,
  deleteUserPermission,
  findOrgMemberIds,
  findTeamPermission,
  findUserPermission,
  listTeamPermissions,
  listUserPermissions,
  upsertTeamPermission,
  upsertUserPermission,
  type UserPermissionRow,
} from "../../db/queries/management-permissions.js";
import type { RepositoryRecord } from "../../db/queries/management-repositories.js";
import { findTeam } from "../../db/queries/management-teams.js";
import { audit } from "./audit.js";
import { validateBody } from "./body.js";
import { bumpRepositories, type ManagementDeps, type RequestContext } from "./deps.js";
import { ManagementError } from "./errors.js";
import { requireRepository } from "./repositories.js";
import { teamAvatar, userAvatar } from "./views.js";

const ROLE = { required: ["role"], properties: { role: { type: "string", enum: ["read", "write", "admin"] } } } as const;
const OWNER_STAYS_ADMIN = "Namespace owner must always be admin.";

async function userViews(deps: ManagementDeps, record: RepositoryRecord, rows: UserPermissionRow[]) {
  const members = record.namespace_organization
    ? await findOrgMemberIds(
        deps.sql,
        record.namespace_id,
        rows.filter((r) => !r.robot).map((r) => r.user_id),
      )
    : new Set<number>();
  return rows.map((row) => ({
    role: row.role,
    name: row.username,
    is_robot: row.robot,
    avatar: userAvatar(row),
    ...(record.namespace_organization ? { is_org_member: row.robot || members.has(row.user_id) } : {}),
  }));
}

/** `GET …/permissions/user/`: direct grants of users and robots, by name. */
export async function listUserGrants(deps: ManagementDeps, ctx: RequestContext, path: string) {
  const { record } = await requireRepository(deps, ctx, path, "admin");
  const views = await userViews(deps, record, await listUserPermissions(deps.sql, record.id));
  return { permissions: Object.fromEntries(views.map((view) => [view.name, view])) };
}

export async function getUserGrant(deps: ManagementDeps, ctx: RequestContext, path: string, username: string) {
  const { record } = await requireRepository(deps, ctx, path, "admin");
  const row = await findUserPermission(deps.sql, record.id, username);
  if (!row) throw ManagementError.notFound("User does not have permission for repo.");
  return (await userViews(deps, record, [row]))[0]!;
}

/** `PUT …/permissions/user/<username>`: sets the role of a user, or of a robot of this namespace. */
export async function setUserGrant(deps: ManagementDeps, ctx: RequestContext, path: string, username: string, body: unknown) {
  const { name, record } = await requireRepository(deps, ctx, path, "admin");
  const role = validateBody(body, ROLE).role as string;
  if (username === name.namespace) throw ManagementError.invalid(OWNER_STAYS_ADMIN);
  const user = await findNamespace(deps.sql, username);
  if (!user || user.organization) throw ManagementError.invalid(`Invalid username: ${username}`);
  if (user.robot && username.slice(0, username.indexOf("+")) !== name.namespace) {
    throw ManagementError.invalid(`Cannot add robot ${username} under namespace ${name.namespace}`);
  }
  await deps.sql.transaction(async (tx) => {
    await upsertUserPermission(tx, record.id, user.id, role);
    const metadata = { username, repo: name.repository, namespace: name.namespace, role };
    await audit(tx, deps, ctx, { kind: "change_repo_permission", namespaceId: record.namespace_id, repositoryId: record.id, metadata });
  });
  await bumpRepositories(deps, [name.full]);
  const row = { user_id: user.id, username: user.username, email: user.email, robot: user.robot, role };
  return (await userViews(deps, record, [row]))[0]!;
}

export async function deleteUserGrant(deps: ManagementDeps, ctx: RequestContext, path: string, username: string): Promise<void> {
  const { name, record } = await requireRepository(deps, ctx, path, "admin");
  if (username === name.namespace) throw ManagementError.invalid(OWNER_STAYS_ADMIN);
  const row = await findUserPermission(deps.sql, record.id, username);
  if (!row) throw ManagementError.invalid("User does not have permission for repo.");
  await deps.sql.transaction(async (tx) => {
    await deleteUserPermission(tx, record.id, row.user_id);
    const metadata = { username, repo: name.repository, namespace: name.namespace };
    await audit(tx, deps, ctx, { kind: "delete_repo_permission", namespaceId: record.namespace_id, repositoryId: record.id, metadata });
  });
  await bumpRepositories(deps, [name.full]);
}

/** `GET …/permissions/team/`: team grants, by team name. */
export async function listTeamGrants(deps: ManagementDeps, ctx: RequestContext, path: string) {
  const { record } = await requireRepository(deps, ctx, path, "admin");
  const rows = await listTeamPermissions(deps.sql, record.id);
  return {
    permissions: Object.fromEntries(rows.map((row) => [row.team, { role: row.role, name: row.team, avatar: teamAvatar(row.team) }])),
  };
}

export async function getTeamGrant(deps: ManagementDeps, ctx: RequestContext, path: string, team: string) {
  const { record } = await requireRepository(deps, ctx, path, "admin");
  const row = await findTeamPermission(deps.sql, record.id, team);
  if (!row) throw ManagementError.notFound("Team does not have permission for repo.");
  return { role: row.role };
}

/** `PUT …/permissions/team/<team>`: the team must belong to the repository's organization. */
export async function setTeamGrant(deps: ManagementDeps, ctx: RequestContext, path: string, teamName: string, body: unknown) {
  const { name, record } = await requireRepository(deps, ctx, path, "admin");
  const role = validateBody(body, ROLE).role as string;
  const team = await findTeam(deps.sql, record.namespace_id, teamName);
  if (!team) throw ManagementError.invalid(`No team ${teamName} in organization ${name.namespace}`);
  await deps.sql.transaction(async (tx) => {
    await upsertTeamPermission(tx, record.id, team.id, role);
    const metadata = { team: teamName, repo: name.repository, role };
    await audit(tx, deps, ctx, { kind: "change_repo_permission", namespaceId: record.namespace_id, repositoryId: record.id, metadata });
  });
  await bumpRepositories(deps, [name.full]);
  return { role, name: team.name, avatar: teamAvatar(team.name) };
}

export async function deleteTeamGrant(deps: ManagementDeps, ctx: RequestContext, path: string, teamName: string): Promise<void> {
  const { name, record } = await requireRepository(deps, ctx, path, "admin");
  const row = await findTeamPermission(deps.sql, record.id, teamName);
  if (!row) throw ManagementError.invalid("Team does not have permission for repo.");
  await deps.sql.transaction(async (tx) => {
    await deleteTeamPermission(tx, record.id, row.team_id);
    const metadata = { team: teamName, repo: name.repository };
    await audit(tx, deps, ctx, { kind: "delete_repo_permission", namespaceId: record.namespace_id, repositoryId: record.id, metadata });
  });
  await bumpRepositories(deps, [name.full]);
}
