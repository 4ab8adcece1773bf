/**
 * The one error type of the management API (Quay's endpoints/exception.py ApiException).
 * The HTTP layer renders it as Quay's problem+json body; `unauthorized` becomes 401
 * `invalid_token` for anonymous callers and 403 `insufficient_scope` for signed-in ones,
 * as Quay's `Unauthorized` does.
 */
import { SqlError, SqlState } from "../ports/sql.js";

export type ManagementErrorKind =
  | "invalid_request"
  | "not_found"
  | "unauthorized"
  | "invalid_token"
  | "request_too_large"
  | "tag_immutable"
  | "repository_read_only"
  | "conflict";

export class ManagementError extends Error {
  override name = "ManagementError";

  constructor(
    readonly kind: ManagementErrorKind,
    message: string,
    /** Extra top-level fields of the body (Quay's `payload`). */
    readonly payload: Record<string, unknown> = {},
  ) {
    super(message);
  }

  /** 400 `invalid_request` with Quay's message. */
  static invalid(message: string): ManagementError {
    return new ManagementError("invalid_request", message);
  }

  /** 404 `not_found`; `detail` replaces Quay's generic "Not Found" where Quay names the thing. */
  static notFound(detail = "Not Found"): ManagementError {
    return new ManagementError("not_found", detail);
  }

  /**
   * 400 for what Quay answers with a Flask-RESTful `{"message": …}` body: the message also
   * sits in `message`, so clients reading either shape find it.
   */
  static invalidMessage(message: string): ManagementError {
    return new ManagementError("invalid_request", message, { message });
  }

  /** Quay's `Unauthorized`: 401 or 403 depending on who asks. */
  static unauthorized(): ManagementError {
    return new ManagementError("unauthorized", "Unauthorized");
  }
}

/** True when a write lost a race against a unique index (the row appeared meanwhile). */
export function isUniqueViolation(error: unknown): boolean {
  return error instanceof SqlError && error.code === SqlState.uniqueViolation;
}
