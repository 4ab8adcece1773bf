/** Node's native (OpenSSL) incremental hashes for the Hashing port. */
import { createHash, type Hash } from "node:crypto";
import type { DigestAlgorithm, Hashing, IncrementalHash, StreamedHash, StreamHashing } from "../../core/ports/hashing.js";

export const nodeHashing: Hashing = {
  create(algorithm: DigestAlgorithm): IncrementalHash {
    return wrap(algorithm, createHash(algorithm));
  },
};

function wrap(algorithm: DigestAlgorithm, hash: Hash): IncrementalHash {
  return {
    update: (chunk) => void hash.update(chunk),
    digest: () => `${algorithm}:${hash.digest("hex")}`,
    copy: () => wrap(algorithm, hash.copy()),
  };
}

/** The same hashes for copies that only need the digest at the end. */
export const nodeStreamHashing: StreamHashing = {
  create(algorithm: DigestAlgorithm): StreamedHash {
    const hash = nodeHashing.create(algorithm);
    return { update: (chunk) => hash.update(chunk), digest: async () => hash.digest() };
  },
};
