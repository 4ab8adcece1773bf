/**
 * Who is calling and what their registry token lets them do, and the read decision
 * Quay makes for every /v2 read (endpoints/v2/__init__.py, require_repo_read): a
 * token grant for the repository, or a public image repository when anonymous
 * access is on. Everything else is a 401 with a challenge — also for repositories
 * that do not exist, so a private repository's existence never leaks.
 */
import type { RegistryConfig } from "../config.js";
import { RegistryError } from "../errors/registry-error.js";
import type { RepositoryName } from "../model/names.js";

export type Action = "pull" | "push" | "*";

export interface Caller {
  /** The token's `sub`; null for anonymous requests. */
  subject: string | null;
  /** Actions the caller's token grants, by repository full name (`ns/repo`). */
  grants: ReadonlyMap<string, ReadonlySet<Action>>;
  /** True when the request carried a valid registry token (an anonymous one included). */
  viaToken: boolean;
}

export const anonymousCaller: Caller = { subject: null, grants: new Map(), viaToken: false };

/** What the pull path knows of a repository (from cache or database). */
export interface RepositoryInfo {
  id: number;
  namespaceId: number;
  isPublic: boolean;
  /** When its namespace is a proxy-cache organization: the upstream's host (`docker.io`, `ghcr.io`); else null. */
  proxyUpstream: string | null;
  kind: string;
  state: number;
  namespaceEnabled: boolean;
}

/** Pull, push and admin roles all include read (Quay's ReadRepositoryPermission). */
export function grantsRead(caller: Caller, name: RepositoryName): boolean {
  return (caller.grants.get(name.full)?.size ?? 0) > 0;
}

/**
 * Throws unless `caller` may read `name`. `repository` is null when it does not exist;
 * a caller with a grant then learns that (NAME_UNKNOWN comes later), others do not.
 */
export function authorizeRead(config: RegistryConfig, caller: Caller, name: RepositoryName, repository: RepositoryInfo | null): void {
  if (grantsRead(caller, name)) return;
  // A push grant on a missing repository means the caller may create it: nothing to hide.
  if (repository === null && grantsWrite(caller, name)) return;
  const scope = `repository:${name.full}:pull`;
  if (repository === null || !repository.isPublic) throw RegistryError.unauthorized(scope);
  if (repository.kind !== "image") {
    throw new RegistryError("UNSUPPORTED", undefined, `This repository is for managing ${repository.kind} and not container images.`);
  }
  if (!config.anonymousAccess && caller.subject === null) throw RegistryError.unauthorized(scope);
}

/** Push and admin grants allow writes (Quay's ModifyRepositoryPermission). */
export function grantsWrite(caller: Caller, name: RepositoryName): boolean {
  const actions = caller.grants.get(name.full);
  return actions !== undefined && (actions.has("push") || actions.has("*"));
}

/**
 * Throws the challenge for `pull,push` unless the caller's token grants writes to `name`.
 * A mount's challenge also names pull on its source (as Distribution does), so a client
 * fetches one token that covers both and the mount succeeds.
 */
export function authorizeWrite(caller: Caller, name: RepositoryName, mountFrom: RepositoryName | null = null): void {
  if (grantsWrite(caller, name)) return;
  const scope = `repository:${name.full}:pull,push`;
  throw RegistryError.unauthorized(mountFrom === null ? scope : `${scope} repository:${mountFrom.full}:pull`);
}
