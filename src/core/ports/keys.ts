/**
 * Key material port: registry JWT keys. Quay keeps public keys in the `servicekey`
 * table (JWK + approval + expiry); each token-issuing instance holds its private key.
 */
import type { JWK } from "jose";

export interface SigningKey {
  kid: string;
  alg: "RS256";
  /** A Web Crypto key, or a private JWK (what a Worker secret holds). */
  privateKey: CryptoKey | JWK;
}

export interface Keys {
  /** An approved, unexpired public key by `kid`, or null. */
  verification(kid: string): Promise<CryptoKey | null>;
}
