/**
 * Ports that tell someone about each call they pass on: the counting behind metrics
 * (and behind the tests' round-trip budgets), without the callers knowing.
 */
import type { Cache } from "../ports/cache.js";
import type { Sql } from "../ports/sql.js";

/** The Sql port, calling `onStatement` for each statement (a transaction counts once). */
export function observedSql(sql: Sql, onStatement: () => void): Sql {
  return {
    query: (text, params) => {
      onStatement();
      return sql.query(text, params);
    },
    transaction: (fn) => {
      onStatement();
      return sql.transaction(fn);
    },
    close: () => sql.close(),
  };
}

/** The Cache port, calling `onRoundTrip` before each call and `onError` when one fails. */
export function observedCache(cache: Cache, onRoundTrip: () => void, onError: () => void = () => {}): Cache {
  const call =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      onRoundTrip();
      try {
        return await fn(...args);
      } catch (error) {
        onError();
        throw error;
      }
    };
  return {
    get: call((key) => cache.get(key)),
    getMany: call((keys) => cache.getMany(keys)),
    set: call((key, value, ttl) => cache.set(key, value, ttl)),
    setIfAbsent: call((key, value, ttl) => cache.setIfAbsent(key, value, ttl)),
    delete: call((keys) => cache.delete(keys)),
    increment: call((key, by) => cache.increment(key, by)),
    addToFields: call((key, deltas) => cache.addToFields(key, deltas)),
    readFields: call((key) => cache.readFields(key)),
    close: () => cache.close(),
  };
}
