/**
 * A dependency (database, cache, blob storage, upstream registry) did not answer in
 * time or could not be reached. Adapters throw it for timeouts and network failures so
 * the HTTP layer can answer 503 instead of hanging or reporting an internal error.
 */
import { isDatabaseUnavailable } from "../ports/sql.js";

export type Dependency = "database" | "cache" | "blob storage" | "upstream";

export class DependencyUnavailableError extends Error {
  override name = "DependencyUnavailableError";

  constructor(
    readonly dependency: Dependency,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** True for errors that mean "try again later": an unreachable or timed-out dependency. */
export function isDependencyUnavailable(error: unknown): boolean {
  return error instanceof DependencyUnavailableError || isDatabaseUnavailable(error);
}

/** The dependency an unavailable error names, for the client's message. */
export function unavailableDependency(error: unknown): Dependency {
  return error instanceof DependencyUnavailableError ? error.dependency : "database";
}
