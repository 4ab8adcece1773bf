/**
 * The cache port's conformance suite, run against Redis (ioredis and Upstash REST
 * through the local gateway) and the in-memory cache.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Cache } from "../../src/core/ports/cache.js";
import { expectUnavailableInTime, type FrozenDependency } from "./frozen-dependency.js";

export interface CacheSubject {
  cache: Cache;
  /** Prefix for every key the suite writes, so runs never collide. */
  prefix: string;
  /** Lets TTLs pass: a fake clock's advance, or a real wait. */
  elapse(ms: number): Promise<void>;
  /** Present when the cache is reached through a fault proxy (runCacheSuite's `faultInjection`). */
  frozen?: FrozenDependency;
  cleanup(): Promise<void>;
}

export function runCacheSuite(name: string, factory: () => Promise<CacheSubject>, options: { faultInjection?: boolean } = {}): void {
  describe(`Cache port: ${name}`, () => {
    let subject: CacheSubject;
    let cache: Cache;
    const key = (k: string) => subject.prefix + k;

    beforeAll(async () => {
      subject = await factory();
      cache = subject.cache;
    });
    afterAll(() => subject?.cleanup());

    it("stores and reads strings verbatim, including JSON-looking and unicode ones", async () => {
      await cache.set(key("json"), '{"a":1}', 60);
      await cache.set(key("number"), "2", 60);
      await cache.set(key("unicode"), "snow ☃ \u0000 end", 60);
      expect(await cache.get(key("json"))).toBe('{"a":1}');
      expect(await cache.get(key("number"))).toBe("2");
      expect(await cache.get(key("unicode"))).toBe("snow ☃ \u0000 end");
      expect(await cache.get(key("absent"))).toBeNull();
    });

    it("reads many keys in order with nulls for misses", async () => {
      await cache.set(key("m1"), "one", 60);
      await cache.set(key("m3"), "three", 60);
      expect(await cache.getMany([key("m1"), key("m2"), key("m3")])).toEqual(["one", null, "three"]);
      expect(await cache.getMany([])).toEqual([]);
    });

    it("expires entries after their TTL", async () => {
      await cache.set(key("ttl"), "soon gone", 1);
      expect(await cache.get(key("ttl"))).toBe("soon gone");
      await subject.elapse(2100);
      expect(await cache.get(key("ttl"))).toBeNull();
    });

    it("sets only when absent", async () => {
      expect(await cache.setIfAbsent(key("lock"), "first", 60)).toBe(true);
      expect(await cache.setIfAbsent(key("lock"), "second", 60)).toBe(false);
      expect(await cache.get(key("lock"))).toBe("first");
    });

    it("deletes several keys, missing ones included", async () => {
      await cache.set(key("d1"), "x", 60);
      await cache.set(key("d2"), "y", 60);
      await cache.delete([key("d1"), key("d2"), key("d3")]);
      expect(await cache.getMany([key("d1"), key("d2")])).toEqual([null, null]);
      await cache.delete([]);
    });

    it("adds to hash fields in one call, fractions included, and reads them back", async () => {
      expect(await cache.readFields(key("hash"))).toEqual({});
      await cache.addToFields(key("hash"), { requests: 2, 'seconds{route="a b"}': 0.25 });
      await cache.addToFields(key("hash"), { requests: 3, 'seconds{route="a b"}': 0.5, other: 1 });
      await cache.addToFields(key("hash"), {});
      expect(await cache.readFields(key("hash"))).toEqual({ requests: 5, 'seconds{route="a b"}': 0.75, other: 1 });
    });

    it("increments atomically from zero", async () => {
      expect(await cache.increment(key("counter"))).toBe(1);
      expect(await cache.increment(key("counter"), 5)).toBe(6);
      const results = await Promise.all(Array.from({ length: 20 }, () => cache.increment(key("counter"))));
      expect(new Set(results).size).toBe(20);
      expect(await cache.get(key("counter"))).toBe("26");
    });

    if (options.faultInjection)
      it("fails commands as unavailable in time while the cache is frozen, then recovers", async () => {
        const frozen = subject.frozen!;
        await cache.set(key("frozen"), "before", 60);
        frozen.freeze();
        try {
          await Promise.all([
            expectUnavailableInTime(frozen.timeoutMs, () => cache.get(key("frozen"))),
            expectUnavailableInTime(frozen.timeoutMs, () => cache.set(key("frozen"), "during", 60)),
            expectUnavailableInTime(frozen.timeoutMs, () => cache.setIfAbsent(key("frozen-lock"), "1", 60)),
            expectUnavailableInTime(frozen.timeoutMs, () => cache.increment(key("frozen-counter"))),
          ]);
        } finally {
          frozen.pass();
        }
        // Replies that arrive late must not answer later commands.
        const values = Array.from({ length: 10 }, (_, i) => `after-${i}`);
        await Promise.all(values.map((v, i) => cache.set(key(`after${i}`), v, 60)));
        expect(await Promise.all(values.map((_, i) => cache.get(key(`after${i}`))))).toEqual(values);
      });
  });
}
