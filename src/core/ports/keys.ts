/**
 * Key material port: registry JWT keys. Quay keeps public keys in the `servicekey`
 * table (JWK + approval + expiry); each token-issuing instance holds its private key.
 */
export interface SigningKey {
  kid: string;
  alg: "RS256";
  privateKey: CryptoKey;
}

export interface Keys {
  /** An approved, unexpired public key by `kid`, or null. */
  verification(kid: string): Promise<CryptoKey | null>;
}
