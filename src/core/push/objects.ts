/**
 * Streaming bytes into the blob store without holding them: a known length goes up as
 * one streamed PUT; an unknown one (chunked request bodies) as a multipart upload whose
 * parts are the only bytes ever buffered, one part at a time.
 */
import type { BlobStore, UploadedPart } from "../ports/blob-store.js";
import type { IncrementalHash } from "../ports/hashing.js";

/** Part size for bodies of unknown length (S3 needs ≥ 5 MiB for every part but the last). */
export const PART_SIZE = 8 * 1024 * 1024;
/** Beyond this a single PUT is not allowed by S3; such objects go up in parts. */
const MAX_SINGLE_PUT = 5 * 1024 * 1024 * 1024;

/** Why a request body did not match its declared length, or that the client's stream broke. */
export type BodyFault = "short" | "long" | "broken";

/**
 * Passes a request body through, counting bytes and feeding each hash. The stream
 * errors when the body runs past `declared` or ends short of it; `fault()` then tells
 * the client's fault from a failure of wherever the bytes were going.
 */
export function meteredBody(
  body: ReadableStream<Uint8Array>,
  declared: number | null,
  hashes: readonly Pick<IncrementalHash, "update">[],
): { stream: ReadableStream<Uint8Array>; bytes(): number; fault(): BodyFault | null } {
  const reader = body.getReader();
  let bytes = 0;
  let fault: BodyFault | null = null;
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const read = await reader.read().catch((error: unknown) => {
          fault = "broken";
          throw error;
        });
        if (read.done) {
          if (declared !== null && bytes < declared) {
            fault = "short";
            throw new Error(`body ended after ${bytes} of ${declared} declared bytes`);
          }
          return controller.close();
        }
        bytes += read.value.byteLength;
        if (declared !== null && bytes > declared) {
          fault = "long";
          await reader.cancel().catch(() => {});
          throw new Error(`body runs past its ${declared} declared bytes`);
        }
        for (const hash of hashes) hash.update(read.value);
        controller.enqueue(read.value);
      },
      cancel: (reason) => reader.cancel(reason),
    },
    { highWaterMark: 0 },
  );
  return { stream, bytes: () => bytes, fault: () => fault };
}

/** Yields the stream's bytes regrouped into `size`-byte parts (the last may be shorter). */
async function* parts(body: ReadableStream<Uint8Array>, size: number): AsyncGenerator<Uint8Array> {
  const reader = body.getReader();
  let part = new Uint8Array(size);
  let filled = 0;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      let offset = 0;
      while (offset < value.byteLength) {
        const take = Math.min(size - filled, value.byteLength - offset);
        part.set(value.subarray(offset, offset + take), filled);
        filled += take;
        offset += take;
        if (filled === size) {
          yield part;
          part = new Uint8Array(size);
          filled = 0;
        }
      }
    }
    if (filled > 0) yield part.subarray(0, filled);
  } finally {
    reader.releaseLock();
  }
}

function streamOf(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      controller.enqueue(bytes);
      controller.close();
    },
  });
}

/** Writes `body` to `key` and resolves once the object exists; `size` null when unknown. */
export async function writeObject(store: BlobStore, key: string, body: ReadableStream<Uint8Array>, size: number | null): Promise<void> {
  if (size !== null && size <= MAX_SINGLE_PUT) return store.put(key, body, size);
  const uploadId = await store.createMultipart(key);
  try {
    const uploaded: UploadedPart[] = [];
    for await (const part of parts(body, PART_SIZE)) {
      uploaded.push(await store.uploadPart(key, uploadId, uploaded.length + 1, streamOf(part), part.byteLength));
    }
    if (uploaded.length === 0) {
      await store.abortMultipart(key, uploadId);
      return store.put(key, streamOf(new Uint8Array(0)), 0);
    }
    await store.completeMultipart(key, uploadId, uploaded);
  } catch (error) {
    await store.abortMultipart(key, uploadId).catch(() => {});
    throw error;
  }
}

/** The objects' bytes one after another, read lazily. */
export function concatenated(store: BlobStore, keys: readonly string[]): ReadableStream<Uint8Array> {
  let index = 0;
  let reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  return new ReadableStream({
    async pull(controller) {
      for (;;) {
        if (reader === null) {
          if (index === keys.length) return controller.close();
          const read = await store.get(keys[index++]!);
          if (read === null) throw new Error(`upload chunk ${keys[index - 1]} is missing`);
          reader = read.body.getReader();
        }
        const { value, done } = await reader.read();
        if (!done) return controller.enqueue(value);
        reader = null;
      }
    },
    async cancel(reason) {
      await reader?.cancel(reason);
    },
  });
}
