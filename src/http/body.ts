/**
 * Request bodies that are not blobs (manifests, management JSON) are read whole, so
 * each has a cap, enforced on the bytes as they arrive: a missing or false
 * Content-Length cannot make the server hold more than the cap.
 */
import { collectAtMost, declaredLength } from "../core/bounded-collect.js";

/** The body went past its cap; reading stopped there. */
export class BodyTooLargeError extends Error {
  override name = "BodyTooLargeError";

  constructor(readonly limit: number) {
    super(`the request body is larger than ${limit} bytes`);
  }
}

/** The whole body (empty when there is none); BodyTooLargeError as soon as it passes `limit` bytes. */
export async function readBoundedBody(request: Request, limit: number): Promise<Uint8Array> {
  const bytes = await collectAtMost(request.body, declaredLength(request.headers), limit);
  if (bytes === null) throw new BodyTooLargeError(limit);
  return bytes;
}
