/**
 * Cache port: a shared key/value cache with TTLs (Redis in production, memory when
 * embedded). Values are strings; callers serialise. Every method is one round trip.
 * A cache is an optimisation: callers treat a thrown error as a miss.
 */
export interface Cache {
  get(key: string): Promise<string | null>;
  /** Values in the order of `keys`, null for misses; one round trip. */
  getMany(keys: readonly string[]): Promise<(string | null)[]>;
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  /** Sets only when absent (a lock or a single-flight marker); true when it was set. */
  setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<boolean>;
  delete(keys: readonly string[]): Promise<void>;
  /** Atomically adds `by` (default 1) and returns the new value; a new key starts at 0. */
  increment(key: string, by?: number): Promise<number>;
  close(): Promise<void>;
}
