/** Embedded cache driver: a Map with TTLs, for the single-process mode and tests. */
import { systemClock, type Clock } from "../../core/ports/clock.js";
import type { Cache } from "../../core/ports/cache.js";

export interface MemoryCacheOptions {
  clock?: Clock;
  /** Oldest entries are dropped beyond this many keys. */
  maxEntries?: number;
}

export function memoryCache(options: MemoryCacheOptions = {}): Cache {
  const clock = options.clock ?? systemClock;
  const maxEntries = options.maxEntries ?? 100_000;
  const entries = new Map<string, { value: string; expiresAt: number }>();
  const hashes = new Map<string, Map<string, number>>();

  function read(key: string): string | null {
    const entry = entries.get(key);
    if (!entry) return null;
    if (entry.expiresAt <= clock.now()) {
      entries.delete(key);
      return null;
    }
    return entry.value;
  }

  function write(key: string, value: string, expiresAt: number): void {
    entries.delete(key);
    entries.set(key, { value, expiresAt });
    if (entries.size > maxEntries) entries.delete(entries.keys().next().value as string);
  }

  return {
    get: async (key) => read(key),
    getMany: async (keys) => keys.map(read),
    async set(key, value, ttlSeconds) {
      write(key, value, clock.now() + ttlSeconds * 1000);
    },
    async setIfAbsent(key, value, ttlSeconds) {
      if (read(key) !== null) return false;
      write(key, value, clock.now() + ttlSeconds * 1000);
      return true;
    },
    async delete(keys) {
      for (const key of keys) entries.delete(key);
    },
    async increment(key, by = 1) {
      const current = read(key);
      const next = (current === null ? 0 : Number(current)) + by;
      if (!Number.isInteger(next)) throw new Error("ERR value is not an integer or out of range");
      const expiresAt = entries.get(key)?.expiresAt ?? Number.POSITIVE_INFINITY;
      write(key, String(next), expiresAt);
      return next;
    },
    async addToFields(key, deltas) {
      const fields = hashes.get(key) ?? new Map<string, number>();
      for (const [field, delta] of Object.entries(deltas)) fields.set(field, (fields.get(field) ?? 0) + delta);
      hashes.set(key, fields);
    },
    async readFields(key) {
      return Object.fromEntries(hashes.get(key) ?? []);
    },
    async close() {
      entries.clear();
      hashes.clear();
    },
  };
}
