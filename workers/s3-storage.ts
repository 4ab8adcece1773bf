/**
 * S3 storage as the edge and the origin wire it: the store, and the redirect signer —
 * S3 presigned URLs, or Akamai token URLs in front of them when Akamai is configured.
 */
import { akamaiSigner } from "../src/adapters/cdn/akamai.js";
import { s3BlobStore } from "../src/adapters/blob/s3.js";
import { loadAkamaiSettings, loadDependencyTimeouts, type ConfigSource, type S3Settings } from "../src/core/config.js";
import type { BlobStore } from "../src/core/ports/blob-store.js";
import type { Clock } from "../src/core/ports/clock.js";
import type { RedirectSigner } from "../src/core/ports/redirect-signer.js";

/** `cdn`: a location's own Akamai host and secret, used with the global bypass settings. */
export function s3Storage(
  env: ConfigSource,
  settings: S3Settings,
  clock: Clock,
  cdn: { domain: string; sharedSecretHex: string } | null = null,
): { blobs: BlobStore; signer: RedirectSigner } {
  const store = s3BlobStore(settings, { timeoutMs: loadDependencyTimeouts(env).storageMs });
  const global = loadAkamaiSettings(env);
  const akamai = cdn === null ? global : { bypassCidrs: [], cdnSpecificNamespaces: [], ...global, ...cdn };
  if (akamai === null) return { blobs: store, signer: store };
  return { blobs: store, signer: akamaiSigner({ s3: store, region: settings.region, clock, ...akamai }) };
}
