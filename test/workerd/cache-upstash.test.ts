import { env } from "cloudflare:workers";
import { upstashCache } from "../../src/adapters/cache/upstash.js";
import { runCacheSuite } from "../suites/cache.js";

runCacheSuite("upstash in workerd", async () => {
  const cache = upstashCache({ url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN });
  return {
    cache,
    prefix: `pier-test:workerd:${crypto.randomUUID()}:`,
    elapse: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    cleanup: () => cache.close(),
  };
});
