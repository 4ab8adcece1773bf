/**
 * The signed-in user (endpoints/api/user.py user_view): who they are, their settings
 * when they administer their own account, and their organizations.
 */
import { findNamespace, listFederatedLogins, listUserOrganizations, listUserPrompts } from "../../db/queries/management-accounts.js";
import type { ManagementDeps, RequestContext } from "./deps.js";
import { ManagementError } from "./errors.js";
import { avatar, userAvatar } from "./views.js";

function parseMetadata(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return {};
  }
}

/** `GET /api/v1/user/`. Anonymous callers (and tokens without user:read) get Quay's 401 with `session_required`. */
export async function getSignedInUser(deps: ManagementDeps, ctx: RequestContext): Promise<Record<string, unknown>> {
  const caller = ctx.access.caller;
  const role = caller ? ctx.access.userRole(caller.username) : null;
  const user = caller && role ? await findNamespace(deps.sql, caller.username) : null;
  if (!caller || !user) throw new ManagementError("invalid_token", "Requires authentication", { session_required: false });

  const view: Record<string, unknown> = { anonymous: false, username: user.username, avatar: userAvatar(user) };
  const isAdmin = role === "admin";
  if (isAdmin) {
    const logins = await listFederatedLogins(deps.sql, user.id);
    Object.assign(view, {
      can_create_repo: true,
      is_me: true,
      verified: user.verified,
      email: user.email,
      logins: logins.map((login) => ({
        service: login.service,
        service_identifier: login.ident,
        metadata: parseMetadata(login.metadata_json),
      })),
      invoice_email: user.invoice_email,
      invoice_email_address: user.invoice_email_address,
      preferred_namespace: user.stripe_id !== null,
      tag_expiration_s: Number(user.removed_tag_expiration_s),
      prompts: await listUserPrompts(deps.sql, user.id),
      company: user.company,
      family_name: user.family_name,
      given_name: user.given_name,
      location: user.location,
      is_free_account: user.stripe_id === null,
      has_password_set: user.has_password,
    });
  }
  const organizations = await listUserOrganizations(deps.sql, user.id);
  view.organizations = await Promise.all(
    organizations.map(async (org) => ({
      name: org.username,
      avatar: avatar(org.username, org.email, "org"),
      can_create_repo: await ctx.access.canCreateRepository(org.username),
      public: false,
      ...(isAdmin ? { is_org_admin: await ctx.access.isOrgAdmin(org.username), preferred_namespace: org.stripe_id !== null } : {}),
    })),
  );
  if (ctx.access.isSuperuser()) view.super_user = true;
  return view;
}
