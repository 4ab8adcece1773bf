/** Reading an upstream body into memory only up to a cap (manifests, referrers, tag pages, tokens). */
import { UpstreamError } from "./types.js";

/** 4 MiB: Quay's and distribution's manifest limit. */
export const MAX_DOCUMENT_BYTES = 4 * 1024 * 1024;

/** The whole body, refused (and the stream cancelled) as soon as it exceeds `max` bytes. */
export async function readBounded(response: Response, max: number, host: string, what: string): Promise<Uint8Array> {
  const tooLarge = () => new UpstreamError("error", `${host} sent more than ${max} bytes for ${what}`, response.status);
  const declared = Number(response.headers.get("content-length") ?? "NaN");
  if (declared > max) {
    await response.body?.cancel();
    throw tooLarge();
  }
  if (response.body === null) return new Uint8Array(0);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}
