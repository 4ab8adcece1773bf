/**
 * Copying one upstream tag into a mirrored repository: the manifest, an index's child
 * manifests first, and every blob they need. A blob Pier already stores — in any
 * repository — is linked, not fetched (a mount, by the manifest's own links); a missing
 * one is streamed from the upstream into a temporary object while hashed, and moved to
 * its content-addressed key only once its digest and length check out. Each manifest is
 * written in one transaction, so a run that stops anywhere leaves only whole rows, and
 * the next run skips what arrived.
 */
import { parseManifest, requiredBlobs, type ParsedManifest } from "../manifests/parse.js";
import { parseDigest } from "../model/digest.js";
import { isManifestMediaType } from "../model/media-types.js";
import type { BlobStore } from "../ports/blob-store.js";
import type { Clock } from "../ports/clock.js";
import type { StreamHashing } from "../ports/hashing.js";
import type { Sql } from "../ports/sql.js";
import { meteredBody, writeObject } from "../push/objects.js";
import type { QuotaSettings } from "../push/quota.js";
import { blobKey, uploadKey } from "../storage-layout.js";
import type { RegistryClient, UpstreamManifest } from "../upstream/types.js";
import { insertManifest, linkManifest } from "../../db/queries/manifests.js";
import { addManifestToTotals } from "../../db/queries/quota.js";
import { findPlacedStorage, findStoredManifest } from "../../db/queries/repo-mirror.js";
import { ensurePlacedStorage } from "../../db/queries/uploads.js";
import type { MirrorSource } from "./reference.js";

export interface CopyDeps {
  sql: Sql;
  blobs: BlobStore;
  hashing: StreamHashing;
  clock: Clock;
  client: RegistryClient;
  /** imagestoragelocation name blobs are placed in. */
  location: string;
  quota: QuotaSettings;
}

/** What a run moved, for the mirror's counters. */
export interface CopyProgress {
  bytesCopied: number;
  blobsCopied: number;
  blobsLinked: number;
  /** Storage ids of blobs this run already has, by digest (shared layers are looked up once). */
  storages: Map<string, number>;
}

export function newProgress(): CopyProgress {
  return { bytesCopied: 0, blobsCopied: 0, blobsLinked: 0, storages: new Map() };
}

/** A tag copy that cannot succeed as it is (bad bytes, unsupported manifest). */
export class MirrorCopyError extends Error {
  override name = "MirrorCopyError";
}

interface Copy {
  deps: CopyDeps;
  source: MirrorSource;
  repository: { id: number; namespaceId: number };
  progress: CopyProgress;
  signal?: AbortSignal;
}

/** Streams one blob from the upstream into storage, verified; its storage id. */
async function fetchBlob(copy: Copy, digest: string, size: number): Promise<number> {
  const { deps } = copy;
  const parsed = parseDigest(digest);
  const key = blobKey(digest);
  if (parsed === null || key === null || (parsed.algorithm !== "sha256" && parsed.algorithm !== "sha512")) {
    throw new MirrorCopyError(`cannot verify blob ${digest}`);
  }
  const blob = await deps.client.getBlob(copy.source.target, copy.source.repository, digest, { purpose: "fill", signal: copy.signal });
  if (blob.size !== null && blob.size !== size) {
    await blob.body.cancel().catch(() => {});
    throw new MirrorCopyError(`the upstream sends ${blob.size} bytes for ${digest}, its manifest says ${size}`);
  }
  const hash = deps.hashing.create(parsed.algorithm);
  const metered = meteredBody(blob.body, size, [hash]);
  const temp = uploadKey(crypto.randomUUID());
  try {
    await writeObject(deps.blobs, temp, metered.stream, size);
    const computed = await hash.digest();
    if (computed !== digest) throw new MirrorCopyError(`the upstream sent bytes hashing to ${computed} for ${digest}`);
    await deps.blobs.copy(temp, key);
  } catch (error) {
    if (metered.fault() === "short" || metered.fault() === "long") {
      throw new MirrorCopyError(`the upstream sent a blob of the wrong length for ${digest}`, { cause: error });
    }
    throw error;
  } finally {
    await deps.blobs.delete(temp).catch(() => {});
  }
  const storageId = await deps.sql.transaction((tx) => ensurePlacedStorage(tx, digest, size, deps.location));
  copy.progress.bytesCopied += size;
  copy.progress.blobsCopied++;
  return storageId;
}

/** The blob's storage id: already held (any repository, bytes present) or fetched now. */
async function ensureBlob(copy: Copy, digest: string, size: number): Promise<number> {
  const known = copy.progress.storages.get(digest);
  if (known !== undefined) return known;
  const { deps } = copy;
  const placed = await findPlacedStorage(deps.sql, digest, deps.location);
  let storageId: number;
  const key = blobKey(digest);
  if (placed !== null && (placed.size === null || placed.size === size) && key !== null && (await deps.blobs.stat(key))?.size === size) {
    storageId = placed.id;
    copy.progress.blobsLinked++;
  } else {
    storageId = await fetchBlob(copy, digest, size);
  }
  copy.progress.storages.set(digest, storageId);
  return storageId;
}

function parsed(manifest: UpstreamManifest): ParsedManifest {
  try {
    return parseManifest(manifest.mediaType, manifest.bytes);
  } catch (error) {
    throw new MirrorCopyError(`manifest ${manifest.digest} cannot be mirrored: ${error instanceof Error ? error.message : error}`);
  }
}

/** Stores the manifest (children and blobs first) unless the repository holds it; its id. */
async function storeManifest(copy: Copy, manifest: UpstreamManifest, depth = 0): Promise<number> {
  const { deps, repository } = copy;
  const existing = await findStoredManifest(deps.sql, repository.id, manifest.digest);
  if (existing !== null) return existing;
  const shape = parsed(manifest);
  const children: number[] = [];
  if (shape.kind === "list") {
    if (depth > 0) throw new MirrorCopyError(`index ${manifest.digest} nests another index`);
    for (const child of shape.manifests) {
      if (!isManifestMediaType(child.mediaType)) continue;
      const stored = await findStoredManifest(deps.sql, repository.id, child.digest);
      if (stored !== null) {
        children.push(stored);
        continue;
      }
      const fetched = await deps.client.getManifest(copy.source.target, copy.source.repository, child.digest, {
        purpose: "fill",
        signal: copy.signal,
      });
      if (fetched.bytes.byteLength !== child.size) throw new MirrorCopyError(`child manifest ${child.digest} is not ${child.size} bytes`);
      children.push(await storeManifest(copy, fetched, depth + 1));
    }
  }
  const blobs = requiredBlobs(shape);
  const storages: number[] = [];
  for (const blob of blobs) storages.push(await ensureBlob(copy, blob.digest, blob.size));
  const now = deps.clock.now();
  return deps.sql.transaction(async (tx) => {
    const row = await insertManifest(tx, {
      repositoryId: repository.id,
      digest: manifest.digest,
      mediaType: shape.mediaType,
      text: new TextDecoder().decode(manifest.bytes),
      configMediaType: shape.kind === "image" ? shape.config.mediaType : null,
      layersCompressedSize: shape.kind === "image" ? shape.layers.reduce((sum, l) => sum + l.size, 0) : null,
      subject: shape.subject?.digest ?? null,
      artifactType: shape.artifactType,
    });
    if (row.created) {
      await linkManifest(tx, repository.id, row.id, storages, children, new Date(now));
      if (deps.quota.enabled) await addManifestToTotals(tx, repository.namespaceId, repository.id, row.id);
    }
    return row.id;
  });
}

/**
 * Fetches the tag's manifest and stores everything it needs; returns the manifest's
 * digest and id. Nothing is fetched but the manifest when the repository holds it already.
 */
export async function copyTag(
  deps: CopyDeps,
  source: MirrorSource,
  repository: { id: number; namespaceId: number },
  tag: string,
  progress: CopyProgress,
  signal?: AbortSignal,
): Promise<{ digest: string; manifestId: number }> {
  const manifest = await deps.client.getManifest(source.target, source.repository, tag, { purpose: "fill", signal });
  const manifestId = await storeManifest({ deps, source, repository, progress, signal }, manifest);
  return { digest: manifest.digest, manifestId };
}
