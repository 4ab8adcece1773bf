/** Origin cache driver: ioredis over one TCP connection. */
import { Redis, ReplyError } from "ioredis";
import { DEFAULT_TIMEOUTS } from "../../core/config.js";
import type { Cache } from "../../core/ports/cache.js";
import { withClassifiedErrors } from "./classified-errors.js";

export interface RedisCacheOptions {
  url: string;
  /** Fail a command after this long (also while disconnected or frozen) instead of waiting. */
  commandTimeoutMs?: number;
}

export function redisCache(options: RedisCacheOptions): Cache {
  const timeoutMs = options.commandTimeoutMs ?? DEFAULT_TIMEOUTS.cacheMs;
  const redis = new Redis(options.url, {
    commandTimeout: timeoutMs,
    connectTimeout: Math.max(timeoutMs, 1_000),
    maxRetriesPerRequest: 1,
  });
  // Reconnection is automatic; a cache error is a miss for the caller.
  redis.on("error", () => {});
  const isReply = (error: unknown) => error instanceof ReplyError;
  const cache: Cache = {
    get: (key) => redis.get(key),
    async getMany(keys) {
      if (keys.length === 0) return [];
      return redis.mget(...keys);
    },
    async set(key, value, ttlSeconds) {
      await redis.set(key, value, "EX", ttlSeconds);
    },
    async setIfAbsent(key, value, ttlSeconds) {
      return (await redis.set(key, value, "EX", ttlSeconds, "NX")) === "OK";
    },
    async delete(keys) {
      if (keys.length > 0) await redis.del(...keys);
    },
    increment: (key, by = 1) => redis.incrby(key, by),
    async addToFields(key, deltas) {
      const entries = Object.entries(deltas);
      if (entries.length === 0) return;
      const pipeline = redis.pipeline();
      for (const [field, delta] of entries) pipeline.hincrbyfloat(key, field, delta);
      const results = (await pipeline.exec()) ?? [];
      const failed = results.find(([error]) => error);
      if (failed) throw failed[0];
    },
    async readFields(key) {
      const fields = await redis.hgetall(key);
      return Object.fromEntries(Object.entries(fields).map(([field, value]) => [field, Number(value)]));
    },
    async close() {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
  return withClassifiedErrors(cache, "Redis", isReply);
}
