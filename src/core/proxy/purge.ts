/**
 * Scoped purge (a Pier extension): an organization admin or a superuser drops the cached
 * tags of a cache organization — all of them, one repository's, or one tag — so the next
 * pull goes to the upstream. Tags leave the time machine exactly as eviction removes them;
 * GC reclaims the bytes. Quay has no audit kind for this, so nothing is logged.
 */
import type { ManagementDeps, RequestContext } from "../management/deps.js";
import { bumpRepositories } from "../management/deps.js";
import { ManagementError } from "../management/errors.js";
import { findNamespace } from "../../db/queries/management-accounts.js";
import { findRepositoryRecord } from "../../db/queries/management-repositories.js";
import { aliveCachedTags, isProxyCacheOrganization, timeMachineSeconds } from "../../db/queries/eviction.js";
import { removeCachedTag, type EvictedTag } from "./eviction.js";

export interface PurgeScope {
  /** A repository name within the organization; null: every repository. */
  repository: string | null;
  /** A tag of that repository; null: every tag. Requires `repository`. */
  tag: string | null;
}

/** Removes the scope's alive tags (immutable ones stay) and bumps the pull cache of every repository touched. */
export async function purgeProxyCache(
  deps: ManagementDeps,
  ctx: RequestContext,
  orgName: string,
  scope: PurgeScope,
): Promise<{ repository: string; tag: string }[]> {
  if (!deps.config.proxyCache) throw ManagementError.notFound();
  ctx.access.requireCaller();
  if (!ctx.access.isSuperuser() && !(await ctx.access.isOrgAdmin(orgName))) throw ManagementError.unauthorized();
  const org = await findNamespace(deps.sql, orgName);
  if (!org?.organization || !(await isProxyCacheOrganization(deps.sql, org.id))) throw ManagementError.notFound();
  if (scope.tag !== null && scope.repository === null) throw ManagementError.invalid("A tag can only be purged with its repository");

  let repositoryId: number | undefined;
  if (scope.repository !== null) {
    const repository = await findRepositoryRecord(deps.sql, orgName, scope.repository);
    if (!repository) throw ManagementError.notFound("Repository not found");
    repositoryId = repository.id;
  }

  const purged = await deps.sql.transaction(async (tx) => {
    const windowMs = (await timeMachineSeconds(tx, org.id)) * 1000;
    const targets = await aliveCachedTags(tx, org.id, deps.clock.now(), { repositoryId, tag: scope.tag ?? undefined });
    const removed: EvictedTag[] = [];
    const seen = new Set<string>();
    for (const target of targets) {
      if (seen.has(`${target.repositoryId}:${target.tag}`)) continue;
      for (const tag of await removeCachedTag(tx, deps.clock, windowMs, target)) {
        seen.add(`${tag.repositoryId}:${tag.tag}`);
        removed.push(tag);
      }
    }
    return removed;
  });
  await bumpRepositories(
    deps,
    purged.map((tag) => `${orgName}/${tag.repository}`),
  );
  return purged.map((tag) => ({ repository: tag.repository, tag: tag.tag }));
}
