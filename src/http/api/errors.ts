/**
 * Quay's API error body (endpoints/exception.py ApiException.to_dict): `detail` and
 * `error_message` carry the message, `error_type` and `title` the type, `type` the
 * error's URL under /api/v1/error/, `status` the code. Every /api/v1 error uses it.
 */
import type { Context } from "hono";
import type { RegistryConfig } from "../../core/config.js";
import { ManagementError } from "../../core/management/errors.js";
import { isDependencyUnavailable, unavailableDependency } from "../../core/errors/dependency-unavailable.js";
import { isRejectedValue } from "../../core/ports/sql.js";
import { publicOrigin } from "../urls.js";

const STATUS = {
  invalid_request: 400,
  not_found: 404,
  invalid_token: 401,
  request_too_large: 413,
  tag_immutable: 409,
  repository_read_only: 503,
  conflict: 409,
} as const;

/** A problem body of `errorType` with `status`, as Quay renders ApiException. */
export function apiError(
  config: RegistryConfig,
  c: Context,
  errorType: string,
  status: number,
  detail: string,
  payload: Record<string, unknown> = {},
): Response {
  const body = {
    ...payload,
    detail,
    error_message: detail,
    error_type: errorType,
    title: errorType,
    type: `${publicOrigin(config, c.req.url).origin}/api/v1/error/${errorType}`,
    status,
  };
  return c.json(body, status as 400);
}

/**
 * Any error thrown under /api/ as Quay's API error JSON. Quay's `Unauthorized` is a 401
 * for anonymous callers and a 403 for signed-in ones. Unexpected errors are reported
 * through `onUnexpected` and hidden behind a 500.
 */
export function apiErrorResponse(config: RegistryConfig, c: Context, error: unknown, onUnexpected?: (error: unknown) => void): Response {
  if (error instanceof ManagementError) {
    if (error.kind === "unauthorized") {
      return c.get("apiCaller")
        ? apiError(config, c, "insufficient_scope", 403, "Unauthorized", error.payload)
        : apiError(config, c, "invalid_token", 401, "Requires authentication", error.payload);
    }
    return apiError(config, c, error.kind, STATUS[error.kind], error.message, error.payload);
  }
  onUnexpected?.(error);
  if (isDependencyUnavailable(error))
    return apiError(config, c, "downstream_issue", 503, `the registry ${unavailableDependency(error)} is unavailable; try again later`);
  if (isRejectedValue(error)) return apiError(config, c, "invalid_request", 400, "the request holds a value the registry cannot store");
  return apiError(config, c, "internal_error", 500, "internal error; the request was not completed");
}
