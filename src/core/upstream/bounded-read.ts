/** Reading an upstream body into memory only up to a cap (manifests, referrers, tag pages, tokens). */
import { collectAtMost, declaredLength } from "../bounded-collect.js";
import { UpstreamError } from "./types.js";

/** 4 MiB: Quay's and distribution's manifest limit. */
export const MAX_DOCUMENT_BYTES = 4 * 1024 * 1024;

/** The whole body, refused (and the stream cancelled) as soon as it exceeds `max` bytes. */
export async function readBounded(response: Response, max: number, host: string, what: string): Promise<Uint8Array> {
  const bytes = await collectAtMost(response.body, declaredLength(response.headers), max);
  if (bytes === null) throw new UpstreamError("error", `${host} sent more than ${max} bytes for ${what}`, response.status);
  return bytes;
}
