/** Wrappers that count what the code under test asks of the database and the cache. */
import type { Cache } from "../../src/core/ports/cache.js";
import type { Sql } from "../../src/core/ports/sql.js";

export interface Counted<T> {
  target: T;
  count(): number;
  reset(): void;
}

/** Counts statements (queries, and each transaction as one). */
export function countingSql(sql: Sql): Counted<Sql> {
  let count = 0;
  const target: Sql = {
    query: (text, params) => {
      count++;
      return sql.query(text, params);
    },
    transaction: (fn) => {
      count++;
      return sql.transaction(fn);
    },
    close: () => sql.close(),
  };
  return { target, count: () => count, reset: () => void (count = 0) };
}

/** Counts round trips: every cache call is one. */
export function countingCache(cache: Cache): Counted<Cache> {
  let count = 0;
  const counted =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> => {
      count++;
      return fn(...args);
    };
  const target: Cache = {
    get: counted((key) => cache.get(key)),
    getMany: counted((keys) => cache.getMany(keys)),
    set: counted((key, value, ttl) => cache.set(key, value, ttl)),
    setIfAbsent: counted((key, value, ttl) => cache.setIfAbsent(key, value, ttl)),
    delete: counted((keys) => cache.delete(keys)),
    increment: counted((key, by) => cache.increment(key, by)),
    addToFields: counted((key, deltas) => cache.addToFields(key, deltas)),
    readFields: counted((key) => cache.readFields(key)),
    close: () => cache.close(),
  };
  return { target, count: () => count, reset: () => void (count = 0) };
}
