/**
 * Manifests a client pushes: OCI image manifest and index (artifacts included) and
 * Docker schema2 manifest and manifest list, validated enough that every reference
 * can be checked and stored. Errors are the ones the OCI distribution spec names.
 */
import { RegistryError } from "../errors/registry-error.js";
import { parseDigest } from "../model/digest.js";
import { isManifestList, MediaType } from "../model/media-types.js";

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  /** Non-distributable ("foreign") layers live elsewhere and are not required here. */
  urls?: string[];
}

interface Common {
  mediaType: string;
  subject: Descriptor | null;
  /** The explicit `artifactType` field only (what Quay stores in manifest.artifact_type). */
  artifactType: string | null;
}

export type ParsedManifest =
  (Common & { kind: "image"; config: Descriptor; layers: Descriptor[] }) | (Common & { kind: "list"; manifests: Descriptor[] });

/** OCI distribution: registries must accept at least 4 MiB. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

const PUSHABLE: ReadonlySet<string> = new Set([
  MediaType.ociManifest,
  MediaType.ociIndex,
  MediaType.dockerManifest,
  MediaType.dockerManifestList,
]);

function invalid(message: string, status?: number): RegistryError {
  return new RegistryError("MANIFEST_INVALID", undefined, { message }, status);
}

function descriptor(value: unknown, where: string): Descriptor {
  const d = value as Partial<Descriptor> | null;
  if (typeof d !== "object" || d === null) throw invalid(`${where} is not a descriptor`);
  if (typeof d.mediaType !== "string" || d.mediaType === "") throw invalid(`${where} has no mediaType`);
  if (typeof d.digest !== "string" || parseDigest(d.digest) === null) throw invalid(`${where} has an invalid digest`);
  if (typeof d.size !== "number" || !Number.isSafeInteger(d.size) || d.size < 0) throw invalid(`${where} has an invalid size`);
  const urls = Array.isArray(d.urls) ? d.urls.filter((u): u is string => typeof u === "string") : undefined;
  return { mediaType: d.mediaType, digest: d.digest, size: d.size, ...(urls && urls.length > 0 ? { urls } : {}) };
}

function descriptors(value: unknown, where: string): Descriptor[] {
  if (!Array.isArray(value)) throw invalid(`${where} must be an array`);
  return value.map((item, i) => descriptor(item, `${where}[${i}]`));
}

/**
 * The manifest in `bytes`, pushed with `contentType`. The type comes from the header,
 * else from the body's `mediaType`; they must agree when both are present.
 */
export function parseManifest(contentType: string | undefined, bytes: Uint8Array): ParsedManifest {
  if (bytes.byteLength > MAX_MANIFEST_BYTES) throw invalid(`manifest is larger than ${MAX_MANIFEST_BYTES} bytes`, 413);
  let body: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes));
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("not an object");
    body = parsed as Record<string, unknown>;
  } catch {
    throw invalid("manifest is not a JSON object");
  }
  // A bare application/json says nothing about the manifest's kind: the body decides.
  const declared = contentType?.split(";")[0]!.trim().toLowerCase() || null;
  const headerType = declared === "application/json" ? null : declared;
  if (headerType !== null && !PUSHABLE.has(headerType)) throw invalid("manifest schema version not supported", 415);
  const bodyType = typeof body.mediaType === "string" ? body.mediaType : null;
  if (headerType !== null && bodyType !== null && headerType !== bodyType) {
    throw invalid(`Content-Type ${headerType} does not match the manifest's mediaType ${bodyType}`);
  }
  const mediaType = headerType ?? bodyType ?? (Array.isArray(body.manifests) ? MediaType.ociIndex : MediaType.ociManifest);
  if (!PUSHABLE.has(mediaType)) throw invalid("manifest schema version not supported", 415);
  if (body.schemaVersion !== 2) throw invalid("schemaVersion must be 2");

  const common: Common = {
    mediaType,
    subject: body.subject === undefined ? null : descriptor(body.subject, "subject"),
    artifactType: typeof body.artifactType === "string" ? body.artifactType : null,
  };
  if (isManifestList(mediaType)) return { ...common, kind: "list", manifests: descriptors(body.manifests, "manifests") };
  return { ...common, kind: "image", config: descriptor(body.config, "config"), layers: descriptors(body.layers ?? [], "layers") };
}

/** Blobs the registry must hold for the manifest: config and layers, minus foreign (URL) layers. */
export function requiredBlobs(manifest: ParsedManifest): Descriptor[] {
  if (manifest.kind !== "image") return [];
  return [manifest.config, ...manifest.layers.filter((layer) => layer.urls === undefined)];
}
