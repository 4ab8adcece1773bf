/**
 * Hashing port: incremental digests of streamed bytes (blob uploads). Web Crypto only
 * hashes whole buffers, so each runtime that receives blobs brings its own.
 */
export type DigestAlgorithm = "sha256" | "sha512";

export interface IncrementalHash {
  update(chunk: Uint8Array): void;
  /** `<algorithm>:<hex>`; the hash is unusable afterwards. */
  digest(): string;
  /** An independent hash with the same state (feed a chunk before it is known to count). */
  copy(): IncrementalHash;
}

export interface Hashing {
  create(algorithm: DigestAlgorithm): IncrementalHash;
}

/**
 * A hash fed as bytes stream by, whose digest may be ready only later: enough to verify a
 * copy (mirror syncs, replication), and available on every runtime — workerd's
 * DigestStream hashes natively but cannot copy its state or answer synchronously.
 */
export interface StreamedHash {
  update(chunk: Uint8Array): void;
  /** `<algorithm>:<hex>` of everything fed; the hash is unusable afterwards. */
  digest(): Promise<string>;
}

export interface StreamHashing {
  create(algorithm: DigestAlgorithm): StreamedHash;
}
