import { redisCache } from "../../src/adapters/cache/redis.js";
import { runCacheSuite } from "../suites/cache.js";
import { startFaultProxy } from "../support/fault-proxy.js";
import { REDIS_URL, uniquePrefix } from "../support/services.js";

const elapse = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

runCacheSuite("redis (ioredis)", async () => {
  const cache = redisCache({ url: REDIS_URL });
  return { cache, prefix: uniquePrefix("redis"), elapse, cleanup: () => cache.close() };
});

runCacheSuite(
  "redis (ioredis) behind a fault proxy, 500 ms bound",
  async () => {
    const url = new URL(REDIS_URL);
    const proxy = await startFaultProxy({ host: url.hostname, port: Number(url.port || 6379) });
    const cache = redisCache({ url: proxy.urlFor(REDIS_URL), commandTimeoutMs: 500 });
    return {
      cache,
      prefix: uniquePrefix("redisfrozen"),
      elapse,
      frozen: { freeze: () => proxy.freeze(), pass: () => proxy.pass(), timeoutMs: 500 },
      async cleanup() {
        await cache.close();
        await proxy.close();
      },
    };
  },
  { faultInjection: true },
);
