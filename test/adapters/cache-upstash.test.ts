import { startUpstashGateway } from "../../scripts/gateways/upstash.js";
import { upstashCache } from "../../src/adapters/cache/upstash.js";
import { runCacheSuite } from "../suites/cache.js";
import { startFaultProxy } from "../support/fault-proxy.js";
import { REDIS_URL, uniquePrefix } from "../support/services.js";

const elapse = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

runCacheSuite("upstash (REST) through the local gateway", async () => {
  const token = crypto.randomUUID();
  const gateway = await startUpstashGateway({ token, redisUrl: REDIS_URL });
  const cache = upstashCache({ url: gateway.url, token });
  return {
    cache,
    prefix: uniquePrefix("upstash"),
    elapse,
    async cleanup() {
      await cache.close();
      await gateway.close();
    },
  };
});

runCacheSuite(
  "upstash (REST) with the gateway behind a fault proxy, 500 ms bound",
  async () => {
    const token = crypto.randomUUID();
    const gateway = await startUpstashGateway({ token, redisUrl: REDIS_URL });
    const url = new URL(gateway.url);
    const proxy = await startFaultProxy({ host: url.hostname, port: Number(url.port) });
    const cache = upstashCache({ url: proxy.urlFor(gateway.url), token, timeoutMs: 500 });
    return {
      cache,
      prefix: uniquePrefix("upstashfrozen"),
      elapse,
      frozen: { freeze: () => proxy.freeze(), pass: () => proxy.pass(), timeoutMs: 500 },
      async cleanup() {
        await cache.close();
        await proxy.close();
        await gateway.close();
      },
    };
  },
  { faultInjection: true },
);
