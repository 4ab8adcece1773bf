import { registryErrorCodes, type RegistryErrorCode } from "./codes.js";

/** The one error type the /v2 layer turns into OCI error JSON. */
export class RegistryError extends Error {
  readonly status: number;
  /** For 401s: the scope the request needed, echoed in the bearer challenge. */
  scope?: string;
  /** Extra response headers (e.g. Retry-After on 429). */
  headers?: Record<string, string>;

  constructor(
    readonly code: RegistryErrorCode,
    message?: string,
    readonly detail: unknown = {},
    status?: number,
  ) {
    super(message ?? registryErrorCodes[code].message);
    this.name = "RegistryError";
    this.status = status ?? registryErrorCodes[code].status;
  }

  /** A 401 whose challenge names `scope` (e.g. `repository:ns/repo:pull`). */
  static unauthorized(scope: string, detail: unknown = {}): RegistryError {
    const error = new RegistryError("UNAUTHORIZED", undefined, detail);
    error.scope = scope;
    return error;
  }

  /** The body the OCI distribution spec defines: `{"errors":[{code,message,detail}]}`. */
  toJSON(): { errors: { code: string; message: string; detail: unknown }[] } {
    return { errors: [{ code: this.code, message: this.message, detail: this.detail }] };
  }
}
