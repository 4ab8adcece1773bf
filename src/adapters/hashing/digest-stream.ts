/**
 * workerd's native streaming hashes (crypto.DigestStream) for the StreamHashing port:
 * lets the edge's cron verify what mirror syncs and replication copy without holding a
 * blob in memory. Writes are queued without waiting: the stream hashes as fast as bytes
 * arrive, far faster than they cross the network.
 */
import type { DigestAlgorithm, StreamedHash, StreamHashing } from "../../core/ports/hashing.js";

interface DigestStreamLike extends WritableStream<ArrayBufferView> {
  readonly digest: Promise<ArrayBuffer>;
}

type DigestStreamClass = new (algorithm: string) => DigestStreamLike;

const WEB_NAMES: Record<DigestAlgorithm, string> = { sha256: "SHA-256", sha512: "SHA-512" };

function hex(buffer: ArrayBuffer): string {
  return Array.from(new Uint8Array(buffer), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

export const digestStreamHashing: StreamHashing = {
  create(algorithm: DigestAlgorithm): StreamedHash {
    const DigestStream = (crypto as unknown as { DigestStream: DigestStreamClass }).DigestStream;
    const stream = new DigestStream(WEB_NAMES[algorithm]);
    const writer = stream.getWriter();
    let failure: unknown = null;
    return {
      update(chunk) {
        writer.write(chunk).catch((error: unknown) => (failure ??= error));
      },
      async digest() {
        await writer.close();
        if (failure !== null) throw failure;
        return `${algorithm}:${hex(await stream.digest)}`;
      },
    };
  },
};
