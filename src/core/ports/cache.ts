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
  /** Adds each delta (fractions allowed) to its field of the hash at `key`; fields start at 0. One round trip. */
  addToFields(key: string, deltas: Readonly<Record<string, number>>): Promise<void>;
  /** Every field of the hash at `key`, as numbers; empty when the key is absent. */
  readFields(key: string): Promise<Record<string, number>>;
  close(): Promise<void>;
}
