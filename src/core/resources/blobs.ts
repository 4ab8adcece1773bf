/**
 * Blob reads: membership by Quay's rule (one cached lookup), answered from metadata;
 * the bytes come from storage by redirect or stream, which the HTTP layer decides.
 */
import { authorizeRead, type Caller, type RepositoryInfo } from "../auth/access.js";
import { RegistryError } from "../errors/registry-error.js";
import type { Digest } from "../model/digest.js";
import type { RepositoryName } from "../model/names.js";
import { blobKey, legacyBlobKey } from "../storage-layout.js";
import { findRepositoryBlob } from "../../db/queries/pull.js";
import type { PullDeps } from "./deps.js";
import { PullCache } from "./pull-cache.js";
import { toRepositoryInfo } from "./repositories.js";

export interface BlobInfo {
  digest: string;
  /** Compressed size (imagestorage.image_size). */
  size: number;
  /** Object key in storage, relative to the store's root. */
  key: string;
  /** The locations holding a placement (absent in entries cached before there were several). */
  locations?: string[];
}

export interface BlobLookup {
  repository: RepositoryInfo | null;
  blob: BlobInfo | null;
}

/** The repository and its placed blob `digest` (Quay's membership rule), from the read-through cache; no authorization. */
export function lookupBlob(deps: PullDeps, name: RepositoryName, digest: string): Promise<BlobLookup> {
  return deps.cache.read(name.full, PullCache.key(name.full, "blob", digest), async () => {
    const row = await findRepositoryBlob(deps.sql, name.namespace, name.repository, digest);
    const repository = row && toRepositoryInfo(row);
    const key = row?.storage_uuid ? (row.cas_path === false ? legacyBlobKey(row.storage_uuid) : blobKey(digest)) : null;
    const blob = row && key && row.image_size !== null ? { digest, size: Number(row.image_size), key, locations: row.locations ?? [] } : null;
    return { value: { repository, blob }, validUntil: null, negative: blob === null };
  });
}

/** The blob `digest` of `name` if `caller` may read it, else the error Quay answers. */
export async function readBlob(deps: PullDeps, caller: Caller, name: RepositoryName, digest: Digest): Promise<BlobInfo> {
  return answerBlob(deps, caller, name, digest, await lookupBlob(deps, name, digest.text));
}

/** `readBlob` with the lookup already done. */
export function answerBlob(deps: PullDeps, caller: Caller, name: RepositoryName, digest: Digest, lookup: BlobLookup): BlobInfo {
  authorizeRead(deps.config, caller, name, lookup.repository);
  if (lookup.repository === null) throw new RegistryError("NAME_UNKNOWN", undefined, "repository not found");
  if (lookup.blob === null) throw new RegistryError("BLOB_UNKNOWN", undefined, { digest: digest.text });
  return lookup.blob;
}
