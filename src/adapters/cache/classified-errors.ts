/**
 * Cache drivers' failures as the core sees them: the server's own reply to a command
 * stays what it is; anything else (a timeout, a refused or lost connection) means the
 * cache is unavailable.
 */
import { DependencyUnavailableError } from "../../core/errors/dependency-unavailable.js";
import type { Cache } from "../../core/ports/cache.js";

/** The same cache with each method's failures classified; `isReply` recognises the server's replies. */
export function withClassifiedErrors(cache: Cache, driver: string, isReply: (error: unknown) => boolean): Cache {
  const classify = (error: unknown): unknown =>
    isReply(error)
      ? error
      : new DependencyUnavailableError("cache", `${driver}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  const guarded: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(cache) as [string, (...args: unknown[]) => Promise<unknown>][]) {
    guarded[name] = (...args: unknown[]) => method(...args).catch((error: unknown) => Promise.reject(classify(error)));
  }
  return guarded as unknown as Cache;
}
