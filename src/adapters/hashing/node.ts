/** Node's native (OpenSSL) incremental hashes for the Hashing port. */
import { createHash } from "node:crypto";
import type { DigestAlgorithm, Hashing, IncrementalHash } from "../../core/ports/hashing.js";

export const nodeHashing: Hashing = {
  create(algorithm: DigestAlgorithm): IncrementalHash {
    const hash = createHash(algorithm);
    return {
      update: (chunk) => void hash.update(chunk),
      digest: () => `${algorithm}:${hash.digest("hex")}`,
    };
  },
};
