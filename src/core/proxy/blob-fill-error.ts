import type { BlobFillFailure } from "./fill-board.js";

/**
 * A blob fill that could not give the client the blob: the upstream sent the wrong bytes
 * (`wrong-bytes`), announced the wrong length (`size-mismatch`), failed or broke off
 * (`upstream`), the leading fill went silent (`stalled`), or storage failed while this
 * client depended on it (`storage`, followers only).
 */
export class BlobFillError extends Error {
  override name = "BlobFillError";
  constructor(
    readonly kind: BlobFillFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
