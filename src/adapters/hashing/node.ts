/** Node's native (OpenSSL) incremental hashes for the Hashing port. */
import { createHash, type Hash } from "node:crypto";
import type { DigestAlgorithm, Hashing, IncrementalHash } from "../../core/ports/hashing.js";

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
