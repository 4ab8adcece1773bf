/**
 * Bodies that are read whole (manifests, management JSON, upstream documents) have a
 * cap, enforced on the bytes as they arrive: a missing or false Content-Length cannot
 * make the process hold more than the cap.
 */

/** The stream's bytes (empty for none), or null — the stream cancelled — as soon as they pass `limit`. */
export async function collectAtMost(
  body: ReadableStream<Uint8Array> | null,
  declared: number | null,
  limit: number,
): Promise<Uint8Array | null> {
  if (declared !== null && declared > limit) {
    await body?.cancel();
    return null;
  }
  if (body === null) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/** A Content-Length header as a number, or null when absent or not a number. */
export function declaredLength(headers: Headers): number | null {
  const value = headers.get("content-length");
  return value !== null && /^\d+$/.test(value.trim()) ? Number(value) : null;
}
