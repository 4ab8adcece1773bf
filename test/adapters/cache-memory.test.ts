import { memoryCache } from "../../src/adapters/cache/memory.js";
import { runCacheSuite } from "../suites/cache.js";
import { fakeClock } from "../support/fake-clock.js";

runCacheSuite("memory", async () => {
  const clock = fakeClock();
  const cache = memoryCache({ clock });
  return {
    cache,
    prefix: "",
    elapse: async (ms) => clock.advance(ms),
    cleanup: () => cache.close(),
  };
});
