import { startUpstashGateway } from "../../scripts/gateways/upstash.js";
import { upstashCache } from "../../src/adapters/cache/upstash.js";
import { runCacheSuite } from "../suites/cache.js";
import { REDIS_URL, uniquePrefix } from "../support/services.js";

runCacheSuite("upstash (REST) through the local gateway", async () => {
  const token = crypto.randomUUID();
  const gateway = await startUpstashGateway({ token, redisUrl: REDIS_URL });
  const cache = upstashCache({ url: gateway.url, token });
  return {
    cache,
    prefix: uniquePrefix("upstash"),
    elapse: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    async cleanup() {
      await cache.close();
      await gateway.close();
    },
  };
});
