/**
 * What `/v2/auth` grants (endpoints/v2/v2auth.py): per requested repository, the
 * actions the entity's role allows — pull for readers and public repositories, push
 * for writers of normal image repositories, `*` for admins — and the token's `context`
 * claim as Quay fills it. Callers who may create a missing repository get push on it;
 * those who would read it once anyone created it (its namespace's owner, the org's
 * admins) also get pull, so /v2 answers them NAME_UNKNOWN, not 401. Creator teams get no
 * pull: the token would outlive another member creating that repository privately.
 *
 * Cache organizations (proxycacheconfig row, PIER_PROXY_CACHE on): every member gets
 * pull on any repository name, existing or not, as in Quay, so a pull can fill the
 * cache; anyone gets pull when the organization allows anonymous pulls (Pier's option);
 * nobody gets push or `*` — Pier keeps a cache's content the upstream's.
 *
 * A repository in MIRROR state grants push only to its mirror robot (with write), `*` to nobody.
 */
import { RegistryError } from "../errors/registry-error.js";
import type { Queryable } from "../ports/sql.js";
import { findRepositoryAccess, type RepositoryAccessRow } from "../../db/queries/accounts.js";
import { proxyCacheAllowsAnonymous } from "../../db/queries/proxy-cache.js";
import type { Action } from "./access.js";
import type { Entity } from "./credentials.js";
import type { AccessEntry } from "./registry-tokens.js";
import type { RepositoryScope } from "./scopes.js";

/** Quay's RepositoryState values that matter to grants. */
const NORMAL = 0;
const MIRROR = 2;

const READ = 1;
const WRITE = 2;
const ADMIN = 3;

const ROLE_LEVEL: Record<string, number> = { read: READ, write: WRITE, admin: ADMIN };
/** How far an OAuth token's scopes let its user's role reach (Quay's _translate_role_for_scopes). */
const SCOPE_CEILING: Record<string, number> = { "repo:read": READ, "repo:write": WRITE, "repo:admin": ADMIN };

/** Users (also through app or OAuth tokens) own their namespace; robots and access tokens own nothing. */
function ownsNamespace(entity: Entity, namespace: string): boolean {
  return (entity.kind === "user" || entity.kind === "appspecifictoken" || entity.kind === "oauthtoken") && entity.username === namespace;
}

function role(row: RepositoryAccessRow, entity: Entity | null, namespace: string): number {
  if (entity === null) return 0;
  // A legacy access token carries its own role, for its one repository.
  if (entity.kind === "token") return row.repository_id === entity.repositoryId ? (ROLE_LEVEL[entity.role] ?? 0) : 0;
  let level = row.repository_role ?? 0;
  if (row.org_admin || ownsNamespace(entity, namespace)) level = ADMIN;
  if (entity.kind === "oauthtoken") level = Math.min(level, Math.max(0, ...[...entity.scopes].map((s) => SCOPE_CEILING[s] ?? 0)));
  return level;
}

function canCreate(row: RepositoryAccessRow, entity: Entity | null, namespace: string): boolean {
  if (entity === null || entity.kind === "token" || row.namespace_id === null) return false;
  if (entity.kind === "oauthtoken" && !entity.scopes.has("repo:create")) return false;
  return ownsNamespace(entity, namespace) || row.org_admin || row.org_creator;
}

function decide(row: RepositoryAccessRow, entity: Entity | null, scope: RepositoryScope): Action[] {
  if (row.namespace_id === null) return [];
  if (row.namespace_enabled === false) {
    throw new RegistryError(
      "DENIED",
      `Namespace ${scope.name.namespace} has been disabled. Please contact a system administrator.`,
      {},
      405,
    );
  }
  const level = role(row, entity, scope.name.namespace);
  const exists = row.repository_id !== null;
  const granted = new Set<Action>();
  const creates = !exists && canCreate(row, entity, scope.name.namespace);
  const readsWhenCreated = creates && (ownsNamespace(entity!, scope.name.namespace) || row.org_admin);
  for (const action of scope.actions) {
    if (action === "pull" && ((exists && level >= READ) || row.visibility === "public" || readsWhenCreated)) granted.add("pull");
    if (action === "push" && entity !== null) {
      if (!exists) {
        if (creates) granted.add("push");
      } else if (level >= WRITE) {
        if (row.kind !== "image") {
          throw new RegistryError("UNSUPPORTED", undefined, `This repository is for managing ${row.kind} and not container images.`);
        }
        // A mirrored repository takes pushes from its mirror robot only (Quay's v2auth).
        if (row.state === NORMAL || (row.state === MIRROR && row.mirror_robot && entity.kind === "robot")) granted.add("push");
      }
    }
    if (action === "*" && exists && level >= ADMIN && row.state === NORMAL) granted.add("*");
  }
  return scope.actions.filter((a) => granted.has(a));
}

/** A member of the organization whose credential may read: not a legacy repository token, an OAuth token only with a repo scope. */
function readsAsMember(row: RepositoryAccessRow, entity: Entity | null): boolean {
  if (entity === null || entity.kind === "token" || !row.org_member) return false;
  return entity.kind !== "oauthtoken" || [...entity.scopes].some((s) => (SCOPE_CEILING[s] ?? 0) >= READ);
}

/** The grants in a cache organization: pull for members (and for anyone when it allows anonymous pulls), never more. */
async function decideInCache(sql: Queryable, row: RepositoryAccessRow, entity: Entity | null, scope: RepositoryScope): Promise<Action[]> {
  const actions = decide(row, entity, scope).filter((a) => a === "pull");
  if (!scope.actions.includes("pull") || actions.includes("pull")) return actions;
  if (readsAsMember(row, entity) || (await proxyCacheAllowsAnonymous(sql, row.namespace_id!))) return ["pull"];
  return actions;
}

/** Settings that change what `/v2/auth` grants. */
export interface GrantOptions {
  /** PIER_PROXY_CACHE: whether proxycacheconfig rows make cache organizations. */
  proxyCache: boolean;
}

/** The token's `access` claim: per requested scope, the actions granted (in the order asked). */
export async function grantScopes(
  sql: Queryable,
  entity: Entity | null,
  scopes: readonly RepositoryScope[],
  options: GrantOptions,
): Promise<AccessEntry[]> {
  const entries: AccessEntry[] = [];
  for (const scope of scopes) {
    const row = await findRepositoryAccess(sql, scope.name.namespace, scope.name.repository, entity?.id ?? null);
    const cache = options.proxyCache && row.proxy_cache && row.namespace_enabled !== false;
    const actions = cache ? await decideInCache(sql, row, entity, scope) : decide(row, entity, scope);
    entries.push({ type: "repository", name: scope.requestedName, actions });
  }
  return entries;
}

/** Quay's `context` claim (version 2), with signing (TUF roots) disabled for every repository. */
export function tokenContext(entity: Entity | null, scopes: readonly RepositoryScope[]): Record<string, unknown> {
  const roots = Object.fromEntries(scopes.map((s) => [s.name.full, "$disabled"]));
  const signing = { "com.apostille.roots": roots, "com.apostille.root": "$disabled" };
  if (entity === null) return { version: 2, entity_kind: "anonymous", kind: "anonymous", ...signing };
  switch (entity.kind) {
    case "token":
      return { version: 2, entity_kind: "token", entity_reference: entity.code, kind: "token", ...signing };
    case "oauthtoken":
      return {
        version: 2,
        entity_kind: "oauthtoken",
        entity_reference: entity.tokenUuid,
        kind: "oauth",
        user: entity.username,
        ...signing,
      };
    case "appspecifictoken":
      return {
        version: 2,
        entity_kind: entity.kind,
        entity_reference: entity.tokenUuid,
        kind: "app_specific_token",
        user: entity.username,
        ...signing,
      };
    case "robot":
      return { version: 2, entity_kind: entity.kind, entity_reference: entity.username, kind: "user", user: entity.username, ...signing };
    case "user":
      return { version: 2, entity_kind: entity.kind, entity_reference: entity.uuid, kind: "user", user: entity.username, ...signing };
  }
}

/** The token's `sub`: the username (robots: `owner+name`), or Quay's anonymous marker. */
export function tokenSubject(entity: Entity | null): string {
  return entity === null ? "(anonymous)" : entity.username;
}
