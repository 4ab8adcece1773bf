/**
 * One fill per object across every instance: the first caller takes a lease in the
 * shared cache and does the work; the others wait for the lease to go, then read what
 * the leader stored. A shared cache that fails never blocks a fill (everyone leads).
 */
import type { Cache } from "../ports/cache.js";
import { sleep } from "../single-flight.js";

export interface LeaseOptions {
  /** The lease outlives a crashed leader this long. */
  ttlSeconds?: number;
  pollMs?: number;
  /** Followers stop waiting after this and do the work themselves. */
  maxWaitMs?: number;
}

/**
 * `lead()` under the lease `key`, or — when another holds it — `follow()` once it is
 * released; a follower that finds nothing (the leader failed) leads after all.
 */
export async function underLease<T>(
  cache: Cache,
  key: string,
  lead: () => Promise<T>,
  follow: () => Promise<T | null>,
  options: LeaseOptions = {},
): Promise<T> {
  const leaseKey = `pier:proxy-lease:${key}`;
  const acquired = await cache.setIfAbsent(leaseKey, crypto.randomUUID(), options.ttlSeconds ?? 30).catch(() => true);
  if (acquired) {
    try {
      return await lead();
    } finally {
      await cache.delete([leaseKey]).catch(() => {});
    }
  }
  const pollMs = options.pollMs ?? 25;
  const maxWaitMs = options.maxWaitMs ?? 15_000;
  for (let waited = 0; waited < maxWaitMs; waited += pollMs) {
    const held = await cache.get(leaseKey).catch(() => null);
    if (held === null) break;
    await sleep(pollMs);
  }
  return (await follow()) ?? lead();
}
