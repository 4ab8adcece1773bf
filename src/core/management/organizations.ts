/**
 * Organizations (endpoints/api/organization.py, data/model/organization.py): created with
 * the given address in `user.email` as Quay at head keeps it (organizations may share
 * one; an internal uuid when none is given), an `owners` team with the admin role and
 * the creator in it; viewed with the caller's rights.
 */
import { findLegacyContactEmail, findNamespace, insertNamespace, type NamespaceRow } from "../../db/queries/management-accounts.js";
import { insertTeam, insertTeamMember, listTeams } from "../../db/queries/management-teams.js";
import { markNamespaceForDeletion } from "../../db/queries/purge.js";
import { audit } from "./audit.js";
import { validateBody } from "./body.js";
import { bumpRepositories, type ManagementDeps, type RequestContext } from "./deps.js";
import { isUniqueViolation, ManagementError } from "./errors.js";
import { namespaceNameIssue } from "./names.js";
import { teamAvatar, userAvatar } from "./views.js";

/** `email` is capped at its column (organizationcontactemail.contact_email varchar(255)). */
const NEW_ORG = {
  required: ["name"],
  properties: { name: { type: "string" }, email: { type: "string", maxLength: 255 }, recaptcha_response: { type: "string" } },
} as const;

const TAKEN = "A user or organization with this name already exists";

/** `POST /api/v1/organization/`: 201 `"Created"`. */
export async function createOrganization(deps: ManagementDeps, ctx: RequestContext, body: unknown): Promise<void> {
  const caller = ctx.access.requireCaller();
  if (ctx.access.userRole(caller.username) !== "admin") throw ManagementError.unauthorized();
  const data = validateBody(body, NEW_ORG);
  const name = data.name as string;
  const email = (data.email as string | undefined) || null;

  if (await findNamespace(deps.sql, name)) throw ManagementError.invalid(TAKEN);
  const issue = namespaceNameIssue(name);
  if (issue) throw ManagementError.invalid(`Invalid namespace ${name}: ${issue}`);

  try {
    await deps.sql.transaction(async (tx) => {
      const orgId = await insertNamespace(tx, {
        uuid: crypto.randomUUID(),
        username: name,
        email: email ?? crypto.randomUUID(),
        organization: true,
        robot: false,
        removedTagExpirationSeconds: deps.config.defaultTagExpirationSeconds,
        now: new Date(deps.clock.now()),
      });
      const owners = await insertTeam(tx, orgId, "owners", "admin", "");
      await insertTeamMember(tx, owners.id, caller.id);
      await audit(tx, deps, ctx, { kind: "org_create", namespaceId: orgId, metadata: { email: data.email ?? null, namespace: name } });
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw ManagementError.invalid(TAKEN);
    throw error;
  }
}

/** An organization's row, or 404 (users and robots are not organizations). */
export async function requireOrganization(deps: ManagementDeps, name: string): Promise<NamespaceRow> {
  const org = await findNamespace(deps.sql, name);
  if (!org || !org.organization) throw ManagementError.notFound();
  return org;
}

/** `user.email`, or the contact e-mail an earlier Pier stored beside an internal uuid. */
async function organizationEmail(deps: ManagementDeps, org: NamespaceRow): Promise<string> {
  if (org.email.includes("@")) return org.email;
  return (await findLegacyContactEmail(deps.sql, org.id)) ?? org.email;
}

/** `GET /api/v1/organization/<org>`: Quay's org_view, teams only for members. */
export async function getOrganization(deps: ManagementDeps, ctx: RequestContext, name: string): Promise<Record<string, unknown>> {
  const org = await requireOrganization(deps, name);
  const isAdmin = await ctx.access.isOrgAdmin(name);
  const isMember = await ctx.access.isOrgMember(name);
  const view: Record<string, unknown> = {
    name: org.username,
    email: isAdmin ? await organizationEmail(deps, org) : "",
    avatar: userAvatar(org),
    is_admin: isAdmin,
    is_member: isMember,
  };
  if (isMember) {
    const teams = await listTeams(deps.sql, org.id);
    const mine = await ctx.access.teamRoles(name);
    view.teams = Object.fromEntries(
      teams.map((team) => [
        team.name,
        {
          name: team.name,
          description: team.description,
          role: team.role,
          avatar: teamAvatar(team.name),
          can_view: isAdmin || mine.has(team.name),
          repo_count: team.repo_count,
          member_count: team.member_count,
          is_synced: team.is_synced,
        },
      ]),
    );
    view.ordered_teams = teams.map((team) => team.name);
  }
  if (isAdmin) {
    view.invoice_email = org.invoice_email;
    view.invoice_email_address = org.invoice_email_address;
    view.tag_expiration_s = Number(org.removed_tag_expiration_s);
    view.is_free_account = org.stripe_id === null;
  }
  return view;
}

/**
 * `DELETE /api/v1/organization/<org>` (organization admins, superusers): 204. The
 * organization is marked for deletion as Quay marks it — renamed, disabled, its robots
 * disabled — and the purge job deletes its repositories, blobs and rows
 * (docs/jobs.md). The audit entry is written first, as Quay does, while the name resolves.
 */
export async function deleteOrganization(deps: ManagementDeps, ctx: RequestContext, name: string): Promise<void> {
  ctx.access.requireCaller();
  const org = await requireOrganization(deps, name);
  if (!(await ctx.access.isOrgAdmin(name)) && !ctx.access.isSuperuser()) throw ManagementError.unauthorized();
  const repositories = await deps.sql.transaction(async (tx) => {
    await audit(tx, deps, ctx, { kind: "org_delete", namespaceId: org.id, metadata: { namespace: name } });
    return markNamespaceForDeletion(tx, org, new Date(deps.clock.now()));
  });
  await bumpRepositories(deps, repositories);
}
