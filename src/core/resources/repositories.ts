/** Repositories as the pull path sees them: looked up once, cached, then authorized. */
import { authorizeRead, type Caller, type RepositoryInfo } from "../auth/access.js";
import { RegistryError } from "../errors/registry-error.js";
import type { RepositoryName } from "../model/names.js";
import { findRepository, type RepositoryRow } from "../../db/queries/pull.js";
import type { PullDeps } from "./deps.js";
import { PullCache } from "./pull-cache.js";

export function toRepositoryInfo(row: RepositoryRow): RepositoryInfo {
  return {
    id: row.repository_id,
    namespaceId: row.namespace_id,
    isPublic: row.visibility === "public",
    kind: row.kind,
    state: row.state,
    namespaceEnabled: row.namespace_enabled,
    proxyUpstream: row.proxy_upstream,
  };
}

/** The repository, or null when it does not exist (or is marked for deletion). */
export function lookupRepository(deps: PullDeps, name: RepositoryName): Promise<RepositoryInfo | null> {
  return deps.cache.read(name.full, PullCache.key(name.full, "repo"), async () => {
    const row = await findRepository(deps.sql, name.namespace, name.repository);
    return { value: row && toRepositoryInfo(row), validUntil: null, negative: row === null };
  });
}

/** Authorizes a read and returns the repository; NAME_UNKNOWN only for callers allowed to know. */
export async function readableRepository(deps: PullDeps, caller: Caller, name: RepositoryName): Promise<RepositoryInfo> {
  const repository = await lookupRepository(deps, name);
  authorizeRead(deps.config, caller, name, repository);
  if (repository === null) throw new RegistryError("NAME_UNKNOWN", undefined, "repository not found");
  return repository;
}
