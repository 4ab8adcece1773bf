/**
 * Quay's `quay.expires-after` label (data/registry_model/label_handlers.py,
 * util/timedeltastring.py): read from an image's config `Labels` and, for OCI
 * manifests, their `annotations` (an annotation wins; artifacts have annotations only),
 * then turned into the lifetime of every tag the manifest is pushed, moved or restored to.
 */
import type { ParsedManifest } from "../manifests/parse.js";
import { MediaType } from "../model/media-types.js";
import type { BlobStore } from "../ports/blob-store.js";
import { blobKey, legacyBlobKey } from "../storage-layout.js";
import { collectAtMost } from "../bounded-collect.js";

/** Image configs are a few KiB; a larger one is not read for its labels. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

const IMAGE_CONFIGS: ReadonlySet<string> = new Set([
  "application/vnd.docker.container.image.v1+json",
  "application/vnd.oci.image.config.v1+json",
]);

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 365 * 86_400_000 };

/** Python's timedelta ends at 999999999 days; Quay fails on larger values, Pier ignores them. */
const MAX_LIFETIME_MS = 999_999_999 * 86_400_000;

/**
 * The lifetime a label value gives a tag, in ms: an integer and one of s, m (minutes), h,
 * d, w, y, as Quay's convert_to_timedelta reads it. Garbage, `0s` and values beyond
 * Python's timedelta are no expiry (null), as in Quay; so are negative values, which
 * Quay turns into a tag that ends before it starts.
 */
export function parseExpiresAfter(value: string): number | null {
  const unit = UNIT_MS[value.slice(-1)];
  const number = value.slice(0, -1);
  if (unit === undefined || !/^\s*[+-]?\d+(_\d+)*\s*$/.test(number)) return null;
  const ms = Number(number.replace(/_/g, "")) * unit;
  return ms > 0 && ms <= MAX_LIFETIME_MS ? ms : null;
}

/** Where the config blob's bytes are: content-addressed, or Quay's legacy per-uuid key. */
export interface ConfigObject {
  uuid: string;
  cas_path: boolean;
}

/** The label of a manifest being pushed, or null; `config` locates the image config blob when the manifest has one. */
export async function expiresAfterLabel(
  blobs: BlobStore,
  manifest: ParsedManifest,
  text: string,
  config: ConfigObject | null,
): Promise<string | null> {
  if (manifest.kind !== "image") return null;
  const annotation = manifest.mediaType === MediaType.ociManifest ? annotationOf(text) : null;
  if (annotation !== null) return annotation;
  if (!IMAGE_CONFIGS.has(manifest.config.mediaType) || config === null || manifest.config.size > MAX_CONFIG_BYTES) return null;
  const key = config.cas_path ? blobKey(manifest.config.digest) : legacyBlobKey(config.uuid);
  const bytes = key === null ? null : await readBounded(blobs, key, MAX_CONFIG_BYTES);
  return bytes === null ? null : configLabel(bytes);
}

function annotationOf(text: string): string | null {
  const annotations = (JSON.parse(text) as { annotations?: unknown }).annotations;
  if (typeof annotations !== "object" || annotations === null) return null;
  const value = (annotations as Record<string, unknown>)["quay.expires-after"];
  return typeof value === "string" ? value : null;
}

function configLabel(bytes: Uint8Array): string | null {
  let config: unknown;
  try {
    config = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
  const labels = (config as { config?: { Labels?: unknown } } | null)?.config?.Labels;
  if (typeof labels !== "object" || labels === null) return null;
  const value = (labels as Record<string, unknown>)["quay.expires-after"];
  return typeof value === "string" ? value : null;
}

/** The object's bytes, or null when it is missing or longer than `limit` (reading stops there). */
async function readBounded(blobs: BlobStore, key: string, limit: number): Promise<Uint8Array | null> {
  const read = await blobs.get(key);
  return read === null ? null : collectAtMost(read.body, read.size, limit);
}
