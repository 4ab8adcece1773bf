/**
 * The referrers API (OCI distribution 1.1): manifests of the repository whose
 * `subject` is the digest, plus the entries of the fallback tag `<alg>-<hex>`,
 * as an image index; optionally filtered by artifactType.
 */
import type { Caller } from "../auth/access.js";
import { MediaType } from "../model/media-types.js";
import type { Digest } from "../model/digest.js";
import type { RepositoryName } from "../model/names.js";
import { listReferrers } from "../../db/queries/pull.js";
import type { PullDeps } from "./deps.js";
import { readManifest } from "./manifests.js";
import { readableRepository } from "./repositories.js";
import { RegistryError } from "../errors/registry-error.js";

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export interface ReferrersIndex {
  schemaVersion: 2;
  mediaType: typeof MediaType.ociIndex;
  manifests: Descriptor[];
}

const encoder = new TextEncoder();

interface ManifestFields {
  artifactType?: unknown;
  config?: { mediaType?: unknown };
  annotations?: unknown;
}

function stringRecord(value: unknown): Record<string, string> | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const entries = Object.entries(value).filter((e): e is [string, string] => typeof e[1] === "string");
  return entries.length > 0 ? Object.fromEntries(entries) : undefined;
}

/**
 * A referrer's descriptor. The spec's artifactType falls back to the config media type
 * (Quay's stops at the explicit field — docs/compatibility.md).
 */
function describe(digest: string, mediaType: string, text: string, storedArtifactType: string | null): Descriptor {
  let fields: ManifestFields = {};
  try {
    fields = JSON.parse(text) as ManifestFields;
  } catch {
    // Unparsable stored bytes still get a descriptor.
  }
  const artifactType =
    storedArtifactType ??
    (typeof fields.artifactType === "string" ? fields.artifactType : undefined) ??
    (typeof fields.config?.mediaType === "string" ? fields.config.mediaType : undefined);
  const annotations = stringRecord(fields.annotations);
  return {
    mediaType,
    digest,
    size: encoder.encode(text).byteLength,
    ...(artifactType ? { artifactType } : {}),
    ...(annotations ? { annotations } : {}),
  };
}

/**
 * Entries of the index tagged `<alg>-<hex>` (the spec's fallback for registries without
 * the API). The spec limits the hex to 64 characters, so a sha512 subject's tag fits.
 */
async function fallbackTagEntries(deps: PullDeps, caller: Caller, name: RepositoryName, subject: Digest): Promise<Descriptor[]> {
  try {
    const { manifest } = await readManifest(deps, caller, name, { kind: "tag", tag: `${subject.algorithm}-${subject.hex.slice(0, 64)}` }, [
      MediaType.ociIndex,
    ]);
    if (manifest.mediaType !== MediaType.ociIndex) return [];
    const index = JSON.parse(manifest.text) as { manifests?: Descriptor[] };
    return (index.manifests ?? []).filter((d) => typeof d?.digest === "string" && typeof d.mediaType === "string");
  } catch (error) {
    if (error instanceof RegistryError || error instanceof SyntaxError) return [];
    throw error;
  }
}

export async function readReferrers(
  deps: PullDeps,
  caller: Caller,
  name: RepositoryName,
  subject: Digest,
  artifactType: string | null,
): Promise<ReferrersIndex> {
  const repository = await readableRepository(deps, caller, name);
  const rows = await listReferrers(deps.sql, repository.id, subject.text);
  const byDigest = new Map<string, Descriptor>();
  for (const row of rows) byDigest.set(row.digest, describe(row.digest, row.media_type, row.manifest_bytes, row.artifact_type));
  for (const entry of await fallbackTagEntries(deps, caller, name, subject))
    if (!byDigest.has(entry.digest)) byDigest.set(entry.digest, entry);
  const manifests = [...byDigest.values()].filter((d) => artifactType === null || d.artifactType === artifactType);
  return { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests };
}
