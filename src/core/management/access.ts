/**
 * Who calls the management API and what they may do, decided as Quay's permission
 * layer does (auth/permissions.py): a user administers their own namespace; team roles
 * in an organization give org-wide rights (admin teams administer every repository);
 * repository roles come from direct and team grants. OAuth tokens cap every role by
 * their scopes (Quay's `_translate_role_for_scopes`); direct logins are not capped.
 */
import type { Queryable } from "../ports/sql.js";
import { findRepositoryAccess } from "../../db/queries/accounts.js";
import { findCallerTeams } from "../../db/queries/management-teams.js";
import { ManagementError } from "./errors.js";

export type RepoRole = "read" | "write" | "admin";
export type TeamRole = "member" | "creator" | "admin";

/** An authenticated API caller: always a user (robots and organizations never sign in here). */
export interface ApiCaller {
  id: number;
  username: string;
  uuid: string | null;
  /** The OAuth token's scopes; null for direct logins (Quay's `direct_user_login`). */
  scopes: ReadonlySet<string> | null;
  /** Set when the caller came with an OAuth token: recorded in audit metadata. */
  oauth: { tokenId: number; uuid: string; clientId: string; application: string } | null;
}

const REPO_ROLES = [null, "read", "write", "admin"] as const;
const TEAM_ROLES = [null, "member", "creator", "admin"] as const;
const USER_ROLES = [null, "read", "admin"] as const;

const SCOPE_MAX_REPO: Record<string, RepoRole> = { "repo:read": "read", "repo:write": "write", "repo:admin": "admin" };
const SCOPE_MAX_TEAM: Record<string, TeamRole> = { "repo:create": "creator", "org:admin": "admin" };
const SCOPE_MAX_USER: Record<string, "read" | "admin"> = { "user:read": "read", "user:admin": "admin" };

/** Quay's known OAuth scopes (auth/scopes.py ALL_SCOPES). */
const KNOWN_SCOPES = new Set([
  "repo:read",
  "repo:write",
  "repo:admin",
  "repo:create",
  "user:read",
  "user:admin",
  "org:admin",
  "super:user",
]);

/** Quay's `scopes_from_scope_string`: space- or comma-separated; any unknown entry voids the whole set. */
export function parseScopes(text: string): Set<string> {
  const parts = text.split(/[ ,]/);
  return parts.every((part) => KNOWN_SCOPES.has(part)) ? new Set(parts) : new Set();
}

function cap<R extends string>(
  cardinality: readonly (R | null)[],
  max: Record<string, R>,
  scopes: ReadonlySet<string> | null,
  role: R | null,
): R | null {
  if (scopes === null || role === null) return role;
  const ceiling = Math.max(0, ...[...scopes].map((scope) => cardinality.indexOf(max[scope] ?? null)));
  return cardinality.indexOf(role) > ceiling ? cardinality[ceiling]! : role;
}

function higher<R extends string>(cardinality: readonly (R | null)[], a: R | null, b: R | null): R | null {
  return cardinality.indexOf(a) >= cardinality.indexOf(b) ? a : b;
}

const ROLE_LEVELS: Record<number, RepoRole> = { 1: "read", 2: "write", 3: "admin" };

/** The permission questions one request asks, answered from the database once each. */
export class Access {
  private readonly teams = new Map<string, Promise<Map<string, TeamRole>>>();

  constructor(
    private readonly sql: Queryable,
    readonly caller: ApiCaller | null,
    private readonly superUsers: readonly string[],
  ) {}

  /** The caller, or Quay's `Unauthorized` (401 for anonymous). */
  requireCaller(): ApiCaller {
    if (this.caller === null) throw ManagementError.unauthorized();
    return this.caller;
  }

  /** A configured superuser signed in directly or with the `super:user` scope. */
  isSuperuser(): boolean {
    const caller = this.caller;
    if (caller === null || !this.superUsers.includes(caller.username)) return false;
    return caller.scopes === null || caller.scopes.has("super:user");
  }

  /** Quay's UserAdminPermission / UserReadPermission on the caller's own account. */
  userRole(username: string): "read" | "admin" | null {
    if (this.caller?.username !== username) return null;
    return cap(USER_ROLES, SCOPE_MAX_USER, this.caller.scopes, "admin");
  }

  /** The caller's teams in organization `org`, each with its (scope-capped) role. */
  teamRoles(org: string): Promise<Map<string, TeamRole>> {
    let pending = this.teams.get(org);
    if (!pending) {
      const caller = this.caller;
      pending =
        caller === null
          ? Promise.resolve(new Map())
          : findCallerTeams(this.sql, caller.id, org).then(
              (rows) => new Map(rows.flatMap((r) => {
                const role = cap(TEAM_ROLES, SCOPE_MAX_TEAM, caller.scopes, r.role as TeamRole);
                return role === null ? [] : [[r.name, role] as const];
              })),
            ); // prettier-ignore
      this.teams.set(org, pending);
    }
    return pending;
  }

  /** Quay's OrganizationNeed for `namespace`: the best team role, or admin of one's own namespace. */
  async namespaceRole(namespace: string): Promise<TeamRole | null> {
    let best: TeamRole | null = null;
    if (this.caller?.username === namespace) best = cap(TEAM_ROLES, SCOPE_MAX_TEAM, this.caller.scopes, "admin");
    for (const role of (await this.teamRoles(namespace)).values()) best = higher(TEAM_ROLES, best, role);
    return best;
  }

  /** AdministerOrganizationPermission. */
  async isOrgAdmin(namespace: string): Promise<boolean> {
    return (await this.namespaceRole(namespace)) === "admin";
  }

  /** OrganizationMemberPermission. */
  async isOrgMember(namespace: string): Promise<boolean> {
    return (await this.namespaceRole(namespace)) !== null;
  }

  /** CreateRepositoryPermission. */
  async canCreateRepository(namespace: string): Promise<boolean> {
    const role = await this.namespaceRole(namespace);
    return role === "admin" || role === "creator";
  }

  /** ViewTeamPermission: a member of the team (any role) or an organization admin. */
  async canViewTeam(org: string, team: string): Promise<boolean> {
    return (await this.teamRoles(org)).has(team) || (await this.isOrgAdmin(org));
  }

  /** The caller's role on a repository: direct and team grants, org admin teams, one's own namespace. */
  async repositoryRole(namespace: string, repository: string): Promise<RepoRole | null> {
    const caller = this.caller;
    if (caller === null) return null;
    const row = await findRepositoryAccess(this.sql, namespace, repository, caller.id);
    let role: RepoRole | null = ROLE_LEVELS[row.repository_role ?? 0] ?? null;
    const admin = row.org_admin || caller.username === namespace;
    if (admin) role = "admin";
    return cap(REPO_ROLES, SCOPE_MAX_REPO, caller.scopes, role);
  }
}
