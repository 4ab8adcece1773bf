/**
 * Redirect signer port: turns a blob key into a short-lived URL the client can fetch
 * directly (S3 presigned, CDN token URL). Stores without one stream through the registry.
 */
export interface RedirectRequest {
  key: string;
  method: "GET" | "HEAD";
  expiresInSeconds: number;
  /** Client address, for signers with a same-network bypass. */
  clientIp?: string;
  namespace?: string;
  repository?: string;
  username?: string;
}

export interface RedirectSigner {
  /** An absolute URL, or null when this request should be streamed instead. */
  sign(request: RedirectRequest): Promise<string | null>;
}
