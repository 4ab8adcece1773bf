/**
 * What `/v2/auth` grants (endpoints/v2/v2auth.py): per requested repository, the
 * actions the entity's role allows — pull for readers and public repositories, push
 * for writers of normal image repositories (or creators of a missing one), `*` for
 * admins — and the token's `context` claim as Quay fills it.
 */
import { RegistryError } from "../errors/registry-error.js";
import type { Queryable } from "../ports/sql.js";
import { findRepositoryAccess, type RepositoryAccessRow } from "../../db/queries/accounts.js";
import type { Action } from "./access.js";
import type { Entity } from "./credentials.js";
import type { AccessEntry } from "./registry-tokens.js";
import type { RepositoryScope } from "./scopes.js";

/** Quay's RepositoryState values that matter to grants. */
const NORMAL = 0;

const READ = 1;
const WRITE = 2;
const ADMIN = 3;

function role(row: RepositoryAccessRow, entity: Entity | null, namespace: string): number {
  if (entity === null) return 0;
  let level = row.repository_role ?? 0;
  if (row.org_admin) level = ADMIN;
  // A user administers every repository of their own namespace.
  if (entity.kind !== "robot" && entity.username === namespace) level = ADMIN;
  return level;
}

function canCreate(row: RepositoryAccessRow, entity: Entity | null, namespace: string): boolean {
  if (entity === null || row.namespace_id === null) return false;
  if (entity.kind !== "robot" && entity.username === namespace) return true;
  return row.org_admin || row.org_creator;
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
  for (const action of scope.actions) {
    if (action === "pull" && ((exists && level >= READ) || row.visibility === "public")) granted.add("pull");
    if (action === "push" && entity !== null) {
      if (!exists) {
        if (canCreate(row, entity, scope.name.namespace)) granted.add("push");
      } else if (level >= WRITE) {
        if (row.kind !== "image") {
          throw new RegistryError("UNSUPPORTED", undefined, `This repository is for managing ${row.kind} and not container images.`);
        }
        if (row.state === NORMAL) granted.add("push");
      }
    }
    if (action === "*" && exists && level >= ADMIN && row.state === NORMAL) granted.add("*");
  }
  return scope.actions.filter((a) => granted.has(a));
}

export async function grantScopes(sql: Queryable, entity: Entity | null, scopes: readonly RepositoryScope[]): Promise<AccessEntry[]> {
  const entries: AccessEntry[] = [];
  for (const scope of scopes) {
    const row = await findRepositoryAccess(sql, scope.name.namespace, scope.name.repository, entity?.id ?? null);
    entries.push({ type: "repository", name: scope.requestedName, actions: decide(row, entity, scope) });
  }
  return entries;
}

/** Quay's `context` claim (version 2), with signing (TUF roots) disabled for every repository. */
export function tokenContext(entity: Entity | null, scopes: readonly RepositoryScope[]): Record<string, unknown> {
  const roots = Object.fromEntries(scopes.map((s) => [s.name.full, "$disabled"]));
  const signing = { "com.apostille.roots": roots, "com.apostille.root": "$disabled" };
  if (entity === null) return { version: 2, entity_kind: "anonymous", kind: "anonymous", ...signing };
  const reference = entity.kind === "user" ? entity.uuid : entity.kind === "robot" ? entity.username : entity.tokenUuid;
  const kind = entity.kind === "appspecifictoken" ? "app_specific_token" : "user";
  return { version: 2, entity_kind: entity.kind, entity_reference: reference, kind, user: entity.username, ...signing };
}

/** The token's `sub`: the username (robots: `owner+name`), or Quay's anonymous marker. */
export function tokenSubject(entity: Entity | null): string {
  return entity === null ? "(anonymous)" : entity.username;
}
