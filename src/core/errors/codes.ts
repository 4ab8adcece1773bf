/**
 * The /v2 error codes as data: code → HTTP status and default message. OCI
 * distribution spec codes plus the ones Quay adds (TAG_EXPIRED, TAG_IMMUTABLE, …), with
 * Quay's messages (endpoints/v2/errors.py) where Quay has the code.
 */
export const registryErrorCodes = {
  BLOB_UNKNOWN: { status: 404, message: "blob unknown to registry" },
  BLOB_UPLOAD_INVALID: { status: 400, message: "blob upload invalid" },
  BLOB_UPLOAD_UNKNOWN: { status: 404, message: "blob upload unknown to registry" },
  DIGEST_INVALID: { status: 400, message: "provided digest did not match uploaded content" },
  MANIFEST_BLOB_UNKNOWN: { status: 400, message: "manifest blob unknown to registry" },
  MANIFEST_INVALID: { status: 400, message: "manifest invalid" },
  MANIFEST_UNKNOWN: { status: 404, message: "manifest unknown" },
  TAG_EXPIRED: { status: 404, message: "Tag has expired" },
  TAG_IMMUTABLE: { status: 409, message: "tag is immutable" },
  NAME_INVALID: { status: 400, message: "invalid repository name" },
  NAME_UNKNOWN: { status: 404, message: "repository name not known to registry" },
  SIZE_INVALID: { status: 400, message: "provided length did not match content length" },
  RANGE_INVALID: { status: 416, message: "requested range not satisfiable" },
  UNAUTHORIZED: { status: 401, message: "access to the requested resource is not authorized" },
  DENIED: { status: 403, message: "requested access to the resource is denied" },
  UNSUPPORTED: { status: 405, message: "The operation is unsupported." },
  INVALID_REQUEST: { status: 400, message: "Invalid request" },
  TOOMANYREQUESTS: { status: 429, message: "too many requests" },
  UNAVAILABLE: { status: 503, message: "service unavailable" },
  UNKNOWN: { status: 500, message: "unknown error" },
} as const satisfies Record<string, { status: number; message: string }>;

export type RegistryErrorCode = keyof typeof registryErrorCodes;
