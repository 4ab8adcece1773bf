/**
 * Teams of an organization and their members (endpoints/api/team.py, data/model/team.py).
 * Pier sends no e-mail, so members are added directly, as Quay does without
 * FEATURE_MAILING; robots may join only teams of their own organization.
 */
import { findNamespace, type NamespaceRow } from "../../db/queries/management-accounts.js";
import {
  deleteTeam,
  deleteTeamInvite,
  deleteTeamMember,
  findAdminTeamsOf,
  findTeam,
  insertTeam,
  insertTeamMember,
  isTeamMember,
  listTeamInvites,
  listTeamMembers,
  updateTeam,
  type MemberRow,
  type TeamRow,
} from "../../db/queries/management-teams.js";
import { audit } from "./audit.js";
import { validateBody } from "./body.js";
import { bumpRepositories, type ManagementDeps, type RequestContext } from "./deps.js";
import { isUniqueViolation, ManagementError } from "./errors.js";
import { teamNameIssue } from "./names.js";
import { requireOrganization } from "./organizations.js";
import { avatar, teamAvatar, userAvatar } from "./views.js";

const TEAM_DESCRIPTION = {
  required: ["role"],
  properties: { role: { type: "string", enum: ["member", "creator", "admin"] }, description: { type: "string" } },
} as const;

/** Organization admins, and superusers, manage teams (Quay allows any superuser here). */
async function requireTeamAdmin(ctx: RequestContext, org: string): Promise<void> {
  if (!(await ctx.access.isOrgAdmin(org)) && !ctx.access.isSuperuser()) throw ManagementError.unauthorized();
}

async function requireTeam(deps: ManagementDeps, org: NamespaceRow, name: string): Promise<TeamRow> {
  const team = await findTeam(deps.sql, org.id, name);
  if (!team) throw ManagementError.notFound(`Team '${name}' is not a team in org '${org.username}'`);
  return team;
}

function memberView(member: MemberRow, invited: boolean) {
  return { name: member.username, kind: "user", is_robot: member.robot, avatar: userAvatar(member), invited };
}

/** `PUT /api/v1/organization/<org>/team/<team>`: creates the team or updates its role and description. */
export async function putTeam(deps: ManagementDeps, ctx: RequestContext, orgName: string, teamName: string, body: unknown) {
  await requireTeamAdmin(ctx, orgName);
  const data = validateBody(body, TEAM_DESCRIPTION);
  const org = await requireOrganization(deps, orgName);
  const caller = ctx.access.requireCaller();
  const role = data.role as string;
  const description = data.description as string | undefined;
  const existing = await findTeam(deps.sql, org.id, teamName);

  let team: TeamRow;
  if (!existing) {
    const issue = teamNameIssue(teamName);
    if (issue) throw ManagementError.invalid(`Invalid team name ${teamName}: ${issue}`);
    try {
      team = await deps.sql.transaction(async (tx) => {
        const created = await insertTeam(tx, org.id, teamName, role, description ?? "");
        await audit(tx, deps, ctx, { kind: "org_create_team", namespaceId: org.id, metadata: { team: teamName } });
        return created;
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw ManagementError.invalid(`Team ${teamName} already exists`);
      throw error;
    }
  } else {
    team = { ...existing };
    if (role !== existing.role && existing.role === "admin") {
      const adminTeams = await findAdminTeamsOf(deps.sql, org.id, caller.id);
      if (adminTeams.includes(existing.name) && adminTeams.length <= 1) {
        throw ManagementError.invalid(
          `Cannot remove admin from team '${existing.name}' because calling user would no longer have admin on org '${org.username}'`,
        );
      }
    }
    await deps.sql.transaction(async (tx) => {
      if (description !== undefined && description !== existing.description) {
        await updateTeam(tx, existing.id, { description });
        team.description = description;
        await audit(tx, deps, ctx, { kind: "org_set_team_description", namespaceId: org.id, metadata: { team: teamName, description } });
      }
      if (role !== existing.role) {
        await updateTeam(tx, existing.id, { role });
        team.role = role;
        await audit(tx, deps, ctx, { kind: "org_set_team_role", namespaceId: org.id, metadata: { team: teamName, role } });
      }
    });
  }
  return {
    name: team.name,
    description: team.description,
    can_view: await ctx.access.canViewTeam(orgName, team.name),
    role: team.role,
    avatar: teamAvatar(team.name),
    new_team: !existing,
  };
}

/** `DELETE /api/v1/organization/<org>/team/<team>`: refused when it would leave the caller without admin. */
export async function removeTeam(deps: ManagementDeps, ctx: RequestContext, orgName: string, teamName: string): Promise<void> {
  await requireTeamAdmin(ctx, orgName);
  const org = await requireOrganization(deps, orgName);
  const team = await requireTeam(deps, org, teamName);
  const caller = ctx.access.requireCaller();
  if (team.role === "admin") {
    const adminTeams = await findAdminTeamsOf(deps.sql, org.id, caller.id);
    if (adminTeams.length === 1 && adminTeams[0] === team.name) {
      throw ManagementError.invalid(
        `Deleting team '${teamName}' would remove admin ability for user '${caller.username}' in organization '${orgName}'`,
      );
    }
  }
  const changed = await deps.sql.transaction(async (tx) => {
    const repositories = await deleteTeam(tx, team.id);
    await audit(tx, deps, ctx, { kind: "org_delete_team", namespaceId: org.id, metadata: { team: teamName } });
    return repositories;
  });
  await bumpRepositories(deps, changed);
}

/** `GET …/team/<team>/members`: members (users and robots) and, for admins, pending invitations. */
export async function listMembers(deps: ManagementDeps, ctx: RequestContext, orgName: string, teamName: string, includePending: boolean) {
  if (!(await ctx.access.canViewTeam(orgName, teamName)) && !ctx.access.isSuperuser()) throw ManagementError.unauthorized();
  const org = await requireOrganization(deps, orgName);
  const team = await findTeam(deps.sql, org.id, teamName);
  if (!team) throw ManagementError.notFound();
  const canEdit = await ctx.access.isOrgAdmin(orgName);
  const members: Record<string, unknown>[] = (await listTeamMembers(deps.sql, team.id)).map((m) => memberView(m, false));
  const invites = includePending && canEdit ? await listTeamInvites(deps.sql, team.id) : [];
  for (const invite of invites) {
    members.push(
      invite.id === null
        ? { email: invite.email, kind: "invite", avatar: avatar(invite.email, invite.email, "user"), invited: true }
        : memberView(invite, true),
    );
  }
  return { name: teamName, members, can_edit: canEdit };
}

async function requireMember(deps: ManagementDeps, name: string): Promise<NamespaceRow | null> {
  const row = await findNamespace(deps.sql, name);
  return row && !row.organization ? row : null;
}

/** `PUT …/team/<team>/members/<member>`: adds a user, or a robot of this organization. */
export async function addMember(deps: ManagementDeps, ctx: RequestContext, orgName: string, teamName: string, memberName: string) {
  await requireTeamAdmin(ctx, orgName);
  const org = await requireOrganization(deps, orgName);
  const team = await findTeam(deps.sql, org.id, teamName);
  if (!team) throw ManagementError.notFound();
  const member = await requireMember(deps, memberName);
  if (!member) throw ManagementError.invalid("Unknown user");
  if (member.robot && !member.username.startsWith(`${org.username}+`)) {
    throw ManagementError.invalid("Cannot add the specified robot to this team, as it is not a member of the organization");
  }
  const already = `User ${member.username} is already a member of team ${team.name}`;
  if (await isTeamMember(deps.sql, team.id, member.id)) throw ManagementError.invalid(already);
  try {
    await deps.sql.transaction(async (tx) => {
      await insertTeamMember(tx, team.id, member.id);
      await audit(tx, deps, ctx, { kind: "org_add_team_member", namespaceId: org.id, metadata: { member: memberName, team: teamName } });
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw ManagementError.invalid(already);
    throw error;
  }
  return memberView(member, false);
}

/** `DELETE …/team/<team>/members/<member>`: drops a pending invitation, else the membership. */
export async function removeMember(deps: ManagementDeps, ctx: RequestContext, orgName: string, teamName: string, memberName: string) {
  await requireTeamAdmin(ctx, orgName);
  const org = await requireOrganization(deps, orgName);
  const team = await findTeam(deps.sql, org.id, teamName);
  if (!team) throw ManagementError.notFound();
  const member = await requireMember(deps, memberName);
  if (!member) throw ManagementError.notFound();
  const caller = ctx.access.requireCaller();
  await deps.sql.transaction(async (tx) => {
    if (await deleteTeamInvite(tx, team.id, member.id)) {
      const metadata = { user: memberName, team: teamName, member: memberName };
      await audit(tx, deps, ctx, { kind: "org_delete_team_member_invite", namespaceId: org.id, metadata });
      return;
    }
    if (!(await isTeamMember(tx, team.id, member.id)))
      throw ManagementError.invalid(`User ${memberName} does not belong to team ${teamName}`);
    if (member.id === caller.id) {
      const adminTeams = await findAdminTeamsOf(tx, org.id, caller.id);
      if (adminTeams.includes(teamName) && adminTeams.length <= 1) {
        throw ManagementError.invalid("User cannot remove themselves from their only admin team.");
      }
    }
    await deleteTeamMember(tx, team.id, member.id);
    await audit(tx, deps, ctx, { kind: "org_remove_team_member", namespaceId: org.id, metadata: { member: memberName, team: teamName } });
  });
}
