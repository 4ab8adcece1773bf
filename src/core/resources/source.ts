/**
 * The pull-source seam: where manifests, blobs and referrers come from. Handlers ask a
 * `PullSource` and never learn whether the answer was stored here or fetched through a
 * proxy cache; wrappers (core/proxy) compose over the local source, as Distribution's
 * `registry/proxy` wraps its storage.
 */
import type { Caller } from "../auth/access.js";
import type { Digest } from "../model/digest.js";
import type { RepositoryName } from "../model/names.js";
import type { Reference } from "../model/reference.js";
import { readBlob, type BlobInfo } from "./blobs.js";
import type { PullDeps } from "./deps.js";
import { readManifest, type ManifestRead } from "./manifests.js";
import { readReferrers, type ReferrersIndex } from "./referrers.js";

/**
 * A blob as a source answers it: `stored` bytes sit in the blob store (the handler
 * redirects or streams them); `streamed` bytes arrive from elsewhere as they are read
 * (null for HEAD, which needs only the metadata).
 */
export type BlobAnswer =
  { kind: "stored"; blob: BlobInfo } | { kind: "streamed"; digest: string; size: number; body: ReadableStream<Uint8Array> | null };

export interface PullSource {
  manifest(caller: Caller, name: RepositoryName, reference: Reference, accepted: readonly string[]): Promise<ManifestRead>;
  blob(caller: Caller, name: RepositoryName, digest: Digest, options: { head: boolean }): Promise<BlobAnswer>;
  referrers(caller: Caller, name: RepositoryName, subject: Digest, artifactType: string | null): Promise<ReferrersIndex>;
}

/** What was pushed here: the database through the read-through cache. */
export function localSource(deps: PullDeps): PullSource {
  return {
    manifest: (caller, name, reference, accepted) => readManifest(deps, caller, name, reference, accepted),
    blob: async (caller, name, digest) => ({ kind: "stored", blob: await readBlob(deps, caller, name, digest) }),
    referrers: (caller, name, subject, artifactType) => readReferrers(deps, caller, name, subject, artifactType),
  };
}
