/**
 * Quota eviction for proxy-cache organizations (Quay's _check_image_upload_possible_or_prune,
 * ordered by last pull instead of tag expiry): before an image is cached, the least
 * recently pulled tags of the organization leave the time machine until the image fits
 * under the organization's Reject limit. Scoped purge removes tags the same way.
 */
import type { Clock } from "../ports/clock.js";
import type { Queryable } from "../ports/sql.js";
import { quotaExceeded, type QuotaSettings } from "../push/quota.js";
import { findQuotaLimits } from "../../db/queries/quota.js";
import {
  leastRecentlyPulledTag,
  liveSizes,
  orphanedChildTempTags,
  removeAliveTag,
  timeMachineSeconds,
  type CachedTag,
} from "../../db/queries/eviction.js";
import { forgetTagPull } from "../../db/queries/proxy-usage.js";

/** A tag taken out of the cache: its repository's pull cache needs a bump. */
export type EvictedTag = CachedTag;

/**
 * The bytes the namespace may hold: its lowest Reject threshold (limit × percent / 100);
 * without quota limits, Quay's DEFAULT_SYSTEM_REJECT_QUOTA_BYTES when set; else none.
 */
export async function rejectLimitBytes(sql: Queryable, quota: QuotaSettings, namespaceId: number): Promise<number | null> {
  const limits = await findQuotaLimits(sql, namespaceId);
  if (limits.length === 0) return quota.systemRejectBytes > 0 ? quota.systemRejectBytes : null;
  const thresholds = limits.filter((l) => l.type === "Reject").map((l) => Math.floor((Number(l.limit_bytes) * l.percent_of_limit) / 100));
  return thresholds.length > 0 ? Math.min(...thresholds) : null;
}

/**
 * Removes tag `tag` of a repository from the time machine (see removeAliveTag), then the
 * hidden `$temp-` tags of its list's children that no alive tag keeps, and forgets its
 * pull record. Returns every tag removed; [] when it was not alive or is immutable.
 */
export async function removeCachedTag(tx: Queryable, clock: Clock, windowMs: number, target: CachedTag): Promise<EvictedTag[]> {
  const manifestIds = await removeAliveTag(tx, clock, target.repositoryId, target.tag, windowMs);
  if (manifestIds.length === 0) return [];
  await forgetTagPull(tx, target.repositoryId, target.tag);
  const removed: EvictedTag[] = [target];
  for (const manifestId of manifestIds) {
    for (const child of await orphanedChildTempTags(tx, target.repositoryId, manifestId, clock.now())) {
      if ((await removeAliveTag(tx, clock, target.repositoryId, child, windowMs)).length > 0) {
        removed.push({ repositoryId: target.repositoryId, repository: target.repository, tag: child });
      }
    }
  }
  return removed;
}

/** Makes room for an image about to be cached; throws quotaExceeded() (src/core/push/quota.ts) when it cannot. */
export async function makeRoomForImage(
  tx: Queryable,
  deps: { clock: Clock; quota: QuotaSettings },
  namespaceId: number,
  blobs: readonly { digest: string; size: number }[],
): Promise<EvictedTag[]> {
  if (!deps.quota.enabled) return [];
  const limit = await rejectLimitBytes(tx, deps.quota, namespaceId);
  if (limit === null) return [];
  const distinct = [...new Map(blobs.map((b) => [b.digest, b])).values()];
  const imageBytes = distinct.reduce((sum, b) => sum + b.size, 0);
  if (imageBytes > limit) throw quotaExceeded();

  const windowMs = (await timeMachineSeconds(tx, namespaceId)) * 1000;
  const evicted: EvictedTag[] = [];
  const tried: number[] = [];
  for (;;) {
    const sizes = await liveSizes(tx, namespaceId, deps.clock.now(), distinct);
    if (sizes.live + sizes.incoming <= limit) return evicted;
    const candidate = await leastRecentlyPulledTag(tx, namespaceId, deps.clock.now(), tried);
    // Tags already evicted stay evicted, as in Quay: the caller's transaction decides.
    if (candidate === null) throw quotaExceeded();
    tried.push(candidate.id);
    const { id: _id, ...tag } = candidate;
    evicted.push(...(await removeCachedTag(tx, deps.clock, windowMs, tag)));
  }
}
