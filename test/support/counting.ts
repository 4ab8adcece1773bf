/** Wrappers that count what the code under test asks of the database and the cache. */
import type { Cache } from "../../src/core/ports/cache.js";
import type { Sql } from "../../src/core/ports/sql.js";
import { observedCache, observedSql } from "../../src/core/metrics/observed-ports.js";

export interface Counted<T> {
  target: T;
  count(): number;
  reset(): void;
}

/** Counts statements (queries, and each transaction as one). */
export function countingSql(sql: Sql): Counted<Sql> {
  let count = 0;
  return { target: observedSql(sql, () => void count++), count: () => count, reset: () => void (count = 0) };
}

/** Counts round trips: every cache call is one. */
export function countingCache(cache: Cache): Counted<Cache> {
  let count = 0;
  return { target: observedCache(cache, () => void count++), count: () => count, reset: () => void (count = 0) };
}
