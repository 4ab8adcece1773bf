/**
 * Request bodies that are not blobs (manifests, management JSON) are read whole, so
 * each has a cap, enforced on the bytes as they arrive: a missing or false
 * Content-Length cannot make the server hold more than the cap.
 */

/** The body went past its cap; reading stopped there. */
export class BodyTooLargeError extends Error {
  override name = "BodyTooLargeError";

  constructor(readonly limit: number) {
    super(`the request body is larger than ${limit} bytes`);
  }
}

/** The whole body (empty when there is none); BodyTooLargeError as soon as it passes `limit` bytes. */
export async function readBoundedBody(request: Request, limit: number): Promise<Uint8Array> {
  if (Number(request.headers.get("content-length") ?? "0") > limit) {
    await request.body?.cancel();
    throw new BodyTooLargeError(limit);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body?.getReader();
  for (;;) {
    const next = await reader?.read();
    if (!next || next.done) break;
    size += next.value.byteLength;
    if (size > limit) {
      await reader!.cancel();
      throw new BodyTooLargeError(limit);
    }
    chunks.push(next.value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}
