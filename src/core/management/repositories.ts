/**
 * Repositories (endpoints/api/repository.py, data/model/repository.py): created with
 * Quay's side rows (action count, search score, the creator's admin grant, the
 * organization's default permissions), listed with Quay's visibility rules and paging,
 * made public or private, and marked for deletion. Writes that change what a pull
 * returns bump the repository's cache generation after they commit.
 */
import { parseRepositoryName, type RepositoryName } from "../model/names.js";
import { findNamespace } from "../../db/queries/management-accounts.js";
import { listApplicablePrototypes, upsertTeamPermission, upsertUserPermission } from "../../db/queries/management-permissions.js";
import {
  findRepositoryRecord,
  insertRepository,
  insertRepositoryCounters,
  markRepositoryForDeletion,
  setRepositoryVisibility,
  type RepositoryRecord,
} from "../../db/queries/management-repositories.js";
import type { Queryable } from "../ports/sql.js";
import type { RepoRole } from "./access.js";
import { audit } from "./audit.js";
import { validateBody } from "./body.js";
import { bumpRepositories, type ManagementDeps, type RequestContext } from "./deps.js";
import { ManagementError } from "./errors.js";

const NEW_REPO = {
  required: ["repository", "visibility", "description"],
  properties: {
    repository: { type: "string" },
    visibility: { type: "string", enum: ["public", "private"] },
    namespace: { type: "string" },
    description: { type: "string" },
    repo_kind: { type: ["string", "null"], enum: ["image", "application", null] },
  },
} as const;

const CHANGE_VISIBILITY = {
  required: ["visibility"],
  properties: { visibility: { type: "string", enum: ["public", "private"] } },
} as const;

const DAY_MS = 86_400_000;

/** `ns/name` from a route, or 404. */
export function repositoryPath(deps: ManagementDeps, path: string): RepositoryName {
  const name = parseRepositoryName(path, deps.config.libraryNamespace);
  if (name === null) throw ManagementError.notFound();
  return name;
}

/** The caller's role on `name` when at least `needed` (or public and only read is needed); else Quay's Unauthorized. */
export async function authorizeRepository(ctx: RequestContext, name: RepositoryName, needed: RepoRole, record: RepositoryRecord | null) {
  const role = await ctx.access.repositoryRole(name.namespace, name.repository);
  const rank = { read: 1, write: 2, admin: 3 } as const;
  const publicRead = needed === "read" && record?.visibility === "public";
  if ((role === null || rank[role] < rank[needed]) && !publicRead) throw ManagementError.unauthorized();
  return role;
}

/** A live repository the caller may act on with `needed`: 401/403 first, then 404 for those who may know. */
export async function requireRepository(deps: ManagementDeps, ctx: RequestContext, path: string, needed: RepoRole) {
  const name = repositoryPath(deps, path);
  const record = await findRepositoryRecord(deps.sql, name.namespace, name.repository);
  const role = await authorizeRepository(ctx, name, needed, record);
  if (!record) throw ManagementError.notFound();
  return { name, record, role };
}

/** Quay's apply_default_permissions: user-specific prototypes win over general ones, per delegate. */
async function applyDefaultPermissions(tx: Queryable, orgId: number, repositoryId: number, creator: { id: number; username: string }) {
  const protos = await listApplicablePrototypes(tx, orgId, creator.id);
  const teams = new Map<number, string>();
  const users = new Map<number, { username: string; role: string }>();
  for (const proto of protos) {
    if (proto.delegate_team_id !== null && proto.delegate_user_id === null) {
      if (teams.has(proto.delegate_team_id) && proto.activating_user_id === null) continue;
      teams.set(proto.delegate_team_id, proto.role);
    } else if (proto.delegate_user_id !== null && proto.delegate_team_id === null) {
      if (users.has(proto.delegate_user_id) && proto.activating_user_id === null) continue;
      users.set(proto.delegate_user_id, { username: proto.delegate_username!, role: proto.role });
    }
  }
  for (const [teamId, role] of teams) await upsertTeamPermission(tx, repositoryId, teamId, role);
  for (const [userId, { username, role }] of users) {
    if (username !== creator.username) await upsertUserPermission(tx, repositoryId, userId, role);
  }
}

export interface RepositoryCreation {
  namespace: { id: number; username: string; organization: boolean };
  name: string;
  visibility: "public" | "private";
  kind: string;
  description: string;
  /** The user or robot creating it: it becomes an admin of it, and org default permissions apply. */
  creator: { id: number; username: string } | null;
  nowMs: number;
}

/**
 * Quay's create_repository rows (inside the caller's transaction): the repository, its
 * action count and search score, the creator's admin grant and the organization's
 * default permissions. Null when the name is taken.
 */
export async function insertRepositoryRows(tx: Queryable, creation: RepositoryCreation): Promise<number | null> {
  const id = await insertRepository(tx, {
    namespaceId: creation.namespace.id,
    name: creation.name,
    visibility: creation.visibility,
    kind: creation.kind,
    description: creation.description,
    badgeToken: crypto.randomUUID(),
  });
  if (id === null) return null;
  await insertRepositoryCounters(tx, id, new Date(creation.nowMs - DAY_MS).toISOString().slice(0, 10));
  const creator = creation.creator;
  if (creator) {
    await upsertUserPermission(tx, id, creator.id, "admin");
    if (creator.username !== creation.namespace.username && creation.namespace.organization) {
      await applyDefaultPermissions(tx, creation.namespace.id, id, creator);
    }
  }
  return id;
}

/** `POST /api/v1/repository`: 201 `{namespace, name, kind}`. */
export async function createRepository(deps: ManagementDeps, ctx: RequestContext, body: unknown) {
  const data = validateBody(body, NEW_REPO);
  const caller = ctx.access.caller;
  const namespace = (data.namespace as string | undefined) ?? caller?.username;
  if (namespace === undefined || !(await ctx.access.canCreateRepository(namespace))) throw ManagementError.unauthorized();
  const repository = data.repository as string;
  if (await findRepositoryRecord(deps.sql, namespace, repository)) throw ManagementError.invalid("Repository already exists");
  if (parseRepositoryName(`${namespace}/${repository}`)?.repository !== repository)
    throw ManagementError.invalid("Invalid repository name");
  const kind = (data.repo_kind as string | null | undefined) || "image";
  const owner = (await findNamespace(deps.sql, namespace))!;

  const created = await deps.sql.transaction(async (tx) => {
    const id = await insertRepositoryRows(tx, {
      namespace: owner,
      name: repository,
      visibility: data.visibility as "public" | "private",
      kind,
      description: data.description as string,
      creator: caller ?? null,
      nowMs: deps.clock.now(),
    });
    if (id === null) return false;
    await audit(tx, deps, ctx, { kind: "create_repo", namespaceId: owner.id, repositoryId: id, metadata: { repo: repository, namespace } });
    return true;
  });
  if (!created) throw ManagementError.invalid("Repository already exists");
  await bumpRepositories(deps, [`${namespace}/${repository}`]);
  return { namespace, name: repository, kind };
}

/** `POST …/changevisibility`: admins make a repository public or private; pulls see it at once. */
export async function changeVisibility(deps: ManagementDeps, ctx: RequestContext, path: string, body: unknown) {
  const { name, record } = await requireRepository(deps, ctx, path, "admin");
  const visibility = validateBody(body, CHANGE_VISIBILITY).visibility as string;
  await deps.sql.transaction(async (tx) => {
    await setRepositoryVisibility(tx, record.id, visibility);
    const metadata = { repo: name.repository, namespace: name.namespace, visibility };
    await audit(tx, deps, ctx, { kind: "change_repo_visibility", namespaceId: record.namespace_id, repositoryId: record.id, metadata });
  });
  await bumpRepositories(deps, [name.full]);
  return { success: true };
}

/** `DELETE /api/v1/repository/<ns>/<repo>`: Quay's mark-for-deletion; the name is free again at once. */
export async function deleteRepository(deps: ManagementDeps, ctx: RequestContext, path: string): Promise<void> {
  const { name, record } = await requireRepository(deps, ctx, path, "admin");
  const now = new Date(deps.clock.now());
  await deps.sql.transaction(async (tx) => {
    const repo = { id: record.id, namespace: name.namespace, name: name.repository };
    await markRepositoryForDeletion(tx, repo, crypto.randomUUID(), now, crypto.randomUUID());
    await audit(tx, deps, ctx, {
      kind: "delete_repo",
      namespaceId: record.namespace_id,
      metadata: { repo: name.repository, namespace: name.namespace },
    });
  });
  await bumpRepositories(deps, [name.full]);
}
