import { redisCache } from "../../src/adapters/cache/redis.js";
import { runCacheSuite } from "../suites/cache.js";
import { REDIS_URL, uniquePrefix } from "../support/services.js";

runCacheSuite("redis (ioredis)", async () => {
  const cache = redisCache({ url: REDIS_URL });
  return {
    cache,
    prefix: uniquePrefix("redis"),
    elapse: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    cleanup: () => cache.close(),
  };
});
