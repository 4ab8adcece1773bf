/** Edge cache driver: Upstash's Redis REST client (one HTTP request per call). */
import { Redis } from "@upstash/redis/cloudflare";
import type { Cache } from "../../core/ports/cache.js";

export interface UpstashCacheOptions {
  url: string;
  token: string;
  /** Retries on network errors; the cache is optional, so fail fast by default. */
  retries?: number;
}

export function upstashCache(options: UpstashCacheOptions): Cache {
  const redis = new Redis({
    url: options.url,
    token: options.token,
    // Values are opaque strings to the core; the client would JSON-parse "2" into 2.
    automaticDeserialization: false,
    enableTelemetry: false,
    retry: options.retries ? { retries: options.retries } : false,
  });
  return {
    get: (key) => redis.get<string>(key),
    async getMany(keys) {
      if (keys.length === 0) return [];
      return redis.mget<(string | null)[]>(...keys);
    },
    async set(key, value, ttlSeconds) {
      await redis.set(key, value, { ex: ttlSeconds });
    },
    async setIfAbsent(key, value, ttlSeconds) {
      return (await redis.set(key, value, { ex: ttlSeconds, nx: true })) === "OK";
    },
    async delete(keys) {
      if (keys.length > 0) await redis.del(...keys);
    },
    increment: (key, by = 1) => redis.incrby(key, by),
    async close() {},
  };
}
