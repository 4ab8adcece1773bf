/** Edge cache driver: Upstash's Redis REST client (one HTTP request per call). */
import { errors, Redis } from "@upstash/redis/cloudflare";
import { DEFAULT_TIMEOUTS } from "../../core/config.js";
import type { Cache } from "../../core/ports/cache.js";
import { withClassifiedErrors } from "./classified-errors.js";

export interface UpstashCacheOptions {
  url: string;
  token: string;
  /** Retries on network errors; the cache is optional, so fail fast by default. */
  retries?: number;
  /** Abort a command's request after this long. */
  timeoutMs?: number;
}

export function upstashCache(options: UpstashCacheOptions): Cache {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUTS.cacheMs;
  const redis = new Redis({
    url: options.url,
    token: options.token,
    // Values are opaque strings to the core; the client would JSON-parse "2" into 2.
    automaticDeserialization: false,
    enableTelemetry: false,
    // On by default: it batches commands of concurrent requests into one fetch made by
    // one of them, and workerd cancels the others' continuations (their request hangs).
    enableAutoPipelining: false,
    retry: options.retries ? { retries: options.retries } : false,
    // A function: a fresh deadline per request (and the client rethrows its abort).
    signal: () => AbortSignal.timeout(timeoutMs),
  });
  const isReply = (error: unknown) => error instanceof errors.UpstashError;
  const cache: Cache = {
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
    async addToFields(key, deltas) {
      const entries = Object.entries(deltas);
      if (entries.length === 0) return;
      const pipeline = redis.pipeline();
      for (const [field, delta] of entries) pipeline.hincrbyfloat(key, field, delta);
      await pipeline.exec();
    },
    async readFields(key) {
      // The client's hgetall post-processes replies (null without automatic deserialization);
      // the raw command gives Redis's flat [field, value, …] list.
      const flat = ((await redis.exec(["HGETALL", key])) ?? []) as string[];
      const fields: Record<string, number> = {};
      for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = Number(flat[i + 1]);
      return fields;
    },
    async close() {},
  };
  return withClassifiedErrors(cache, "Upstash", isReply);
}
