/**
 * PIER_REDIS_PREFIX: every key a deployment writes to the shared cache starts with its
 * prefix, so two deployments (or test databases) sharing one Redis never read each
 * other's entries, generations, leases or metrics.
 */
import type { Cache } from "./ports/cache.js";

export function prefixedCache(cache: Cache, prefix: string): Cache {
  if (prefix === "") return cache;
  const key = (name: string) => `${prefix}${name}`;
  return {
    get: (name) => cache.get(key(name)),
    getMany: (names) => cache.getMany(names.map(key)),
    set: (name, value, ttlSeconds) => cache.set(key(name), value, ttlSeconds),
    setIfAbsent: (name, value, ttlSeconds) => cache.setIfAbsent(key(name), value, ttlSeconds),
    delete: (names) => cache.delete(names.map(key)),
    increment: (name, by) => cache.increment(key(name), by),
    addToFields: (name, deltas) => cache.addToFields(key(name), deltas),
    readFields: (name) => cache.readFields(key(name)),
    close: () => cache.close(),
  };
}
