/**
 * Request scope port: a value that follows one request through every await, so code
 * deep in the call tree (the SQL and cache wrappers) can count what the request costs
 * without threading a context object through every function.
 */
export interface RequestScope<T> {
  run<R>(value: T, fn: () => R): R;
  /** The value of the request being served, if any. */
  current(): T | undefined;
}
