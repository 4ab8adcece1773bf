/**
 * The repository a write goes to. The caller's token must grant push on it. A token
 * granting push on a repository that does not exist yet was only minted for a caller
 * who may create it (see auth/token-service.ts): Quay creates it when it mints the token,
 * Pier at the first write — private, with the creator as admin, as Quay does. A cache
 * organization takes no writes, whatever an older token grants: its content is the upstream's.
 */
import { authorizeWrite, type Caller } from "../auth/access.js";
import { recordAudit } from "../audit.js";
import { RegistryError } from "../errors/registry-error.js";
import { insertRepositoryRows } from "../management/repositories.js";
import type { RepositoryName } from "../model/names.js";
import type { Clock } from "../ports/clock.js";
import type { Sql } from "../ports/sql.js";
import type { PullCache } from "../resources/pull-cache.js";
import { findNamespace } from "../../db/queries/management-accounts.js";
import { findRepository } from "../../db/queries/pull.js";
import { findProxyCacheUpstream } from "../../db/queries/proxy-cache.js";

/** Who writes, for the audit log. */
export interface Actor {
  performer: { id: number; username: string } | null;
  ip: string | null;
  userAgent: string | null;
}

/** A repository the caller may write, as the push path needs it. */
export interface PushTarget {
  id: number;
  namespaceId: number;
  name: RepositoryName;
  /** `ns/repo`, whose cached reads a completed write invalidates. */
  full: string;
  actor: Actor;
}

export interface TargetDeps {
  sql: Sql;
  clock: Clock;
  cache: PullCache;
  /** PIER_PROXY_CACHE: when on, writes into cache organizations are refused. */
  proxyCache: boolean;
}

export interface WriteRequest {
  caller: Caller;
  name: RepositoryName;
  ip: string | null;
  userAgent: string | null;
  /** The source of a cross-repository mount, named in the challenge when the write is refused. */
  mountFrom?: RepositoryName | null;
}

export async function resolvePushTarget(deps: TargetDeps, request: WriteRequest): Promise<PushTarget> {
  const { caller, name } = request;
  authorizeWrite(caller, name, request.mountFrom);
  if (deps.proxyCache) {
    const upstream = await findProxyCacheUpstream(deps.sql, name.namespace);
    if (upstream !== null) {
      throw new RegistryError("DENIED", `cache organization ${name.namespace} is read-only: its content comes from ${upstream}`, {}, 403);
    }
  }
  const performer = caller.subject === null ? null : await findNamespace(deps.sql, caller.subject);
  const actor: Actor = {
    performer: performer && { id: performer.id, username: performer.username },
    ip: request.ip,
    userAgent: request.userAgent,
  };
  const existing = await findRepository(deps.sql, name.namespace, name.repository);
  if (existing) return { id: existing.repository_id, namespaceId: existing.namespace_id, name, full: name.full, actor };

  const namespace = await findNamespace(deps.sql, name.namespace);
  if (namespace === null || namespace.robot) throw new RegistryError("NAME_UNKNOWN", undefined, "repository not found");
  const created = await deps.sql.transaction(async (tx) => {
    const id = await insertRepositoryRows(tx, {
      namespace,
      name: name.repository,
      visibility: "private",
      kind: "image",
      description: "",
      creator: actor.performer,
      nowMs: deps.clock.now(),
    });
    if (id !== null) {
      await recordAudit(tx, {
        kind: "create_repo",
        namespaceId: namespace.id,
        performerId: actor.performer?.id ?? null,
        repositoryId: id,
        ip: actor.ip,
        metadata: { repo: name.repository, namespace: name.namespace },
        at: new Date(deps.clock.now()),
      });
    }
    return id;
  });
  await deps.cache.bump(name.full);
  // Null: a concurrent first push created it a moment ago.
  const id = created ?? (await findRepository(deps.sql, name.namespace, name.repository))?.repository_id;
  if (id === undefined) throw new RegistryError("NAME_UNKNOWN", undefined, "repository not found");
  return { id, namespaceId: namespace.id, name, full: name.full, actor };
}

/** Quay's track_and_log metadata for a write to `target`. */
export function trackedMetadata(target: PushTarget, extra: Record<string, unknown>): Record<string, unknown> {
  const metadata: Record<string, unknown> = {
    repo: target.name.repository,
    namespace: target.name.namespace,
    "user-agent": target.actor.userAgent ?? "",
  };
  if (target.actor.performer) metadata.username = target.actor.performer.username;
  return { ...metadata, ...extra };
}
