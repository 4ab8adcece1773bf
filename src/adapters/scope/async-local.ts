/**
 * The request scope over AsyncLocalStorage: native in Node, and in workerd with the
 * `nodejs_als` compatibility flag (wrangler.toml).
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { RequestScope } from "../../core/ports/request-scope.js";

export function asyncLocalScope<T>(): RequestScope<T> {
  const storage = new AsyncLocalStorage<T>();
  return {
    run: (value, fn) => storage.run(value, fn),
    current: () => storage.getStore(),
  };
}
