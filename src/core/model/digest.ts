/** Content digests as the OCI image spec defines them; sha256 and sha512 are verifiable. */
const DIGEST = /^([a-z0-9]+(?:[.+_-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/;
const HEX_LENGTH: Record<string, number> = { sha256: 64, sha512: 128 };

export interface Digest {
  algorithm: string;
  hex: string;
  /** `algorithm:hex`, exactly as given. */
  text: string;
}

/** Parses a digest; null when malformed or an algorithm's encoding is wrong. */
export function parseDigest(text: string): Digest | null {
  const match = DIGEST.exec(text);
  if (!match) return null;
  const [, algorithm, hex] = match as unknown as [string, string, string];
  const length = HEX_LENGTH[algorithm];
  if (length !== undefined && (hex.length !== length || !/^[a-f0-9]+$/.test(hex))) return null;
  return { algorithm, hex, text };
}

/**
 * A digest this registry can verify (sha256 or sha512); null otherwise. Requests refuse
 * the rest with DIGEST_INVALID: content under another algorithm could never be checked.
 */
export function parseSupportedDigest(text: string): (Digest & { algorithm: "sha256" | "sha512" }) | null {
  const digest = parseDigest(text);
  return digest && isSupportedAlgorithm(digest.algorithm) ? (digest as Digest & { algorithm: "sha256" | "sha512" }) : null;
}

export function isSupportedAlgorithm(algorithm: string): algorithm is "sha256" | "sha512" {
  return algorithm in HEX_LENGTH;
}
