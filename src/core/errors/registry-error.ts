import { registryErrorCodes, type RegistryErrorCode } from "./codes.js";

/** The one error type the /v2 layer turns into OCI error JSON. */
export class RegistryError extends Error {
  readonly status: number;

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

  /** The body the OCI distribution spec defines: `{"errors":[{code,message,detail}]}`. */
  toJSON(): { errors: { code: string; message: string; detail: unknown }[] } {
    return { errors: [{ code: this.code, message: this.message, detail: this.detail }] };
  }
}
