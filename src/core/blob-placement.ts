/**
 * Recording an object in storage as a placed blob, safe against garbage collection.
 * GC deletes an orphaned blob's rows and then its object while holding the blob's
 * per-digest lock. A writer puts (or finds) the object before it takes that lock, so
 * under the lock it checks that the object is still there before recording the blob:
 * either GC ran first (the object is gone: write it again) or it runs later and sees
 * the new row.
 */
import type { BlobStore } from "./ports/blob-store.js";
import type { Queryable, Sql } from "./ports/sql.js";
import { blobKey } from "./storage-layout.js";
import { ensurePlacedStorage } from "../db/queries/uploads.js";

/** The object was deleted (by GC) between being written and being recorded. */
export class ObjectVanished extends Error {
  constructor(readonly digest: string) {
    super(`the stored object of ${digest} was removed before it was recorded`);
    this.name = "ObjectVanished";
  }
}

export interface PlacedBlob {
  digest: string;
  size: number;
  /** The imagestoragelocation name. */
  location: string;
}

/**
 * One transaction: the storage row placed under the digest lock, the object checked,
 * then `link` (e.g. the repository's uploadedblob row). Throws ObjectVanished.
 */
export async function placeStoredBlob(
  deps: { sql: Sql; blobs: BlobStore },
  blob: PlacedBlob,
  link?: (tx: Queryable, storageId: number) => Promise<void>,
): Promise<number> {
  return deps.sql.transaction(async (tx) => {
    const storageId = await ensurePlacedStorage(tx, blob.digest, blob.size, blob.location);
    const stat = await deps.blobs.stat(blobKey(blob.digest)!);
    if (stat === null || stat.size !== blob.size) throw new ObjectVanished(blob.digest);
    await link?.(tx, storageId);
    return storageId;
  });
}

/** GC would have to win this many races in a row; each lost one costs a rewrite. */
const PLACEMENT_ATTEMPTS = 3;

/** placeStoredBlob, writing the object again (`rewrite`) each time GC removed it first. */
export async function placeWrittenBlob(
  deps: { sql: Sql; blobs: BlobStore },
  blob: PlacedBlob,
  rewrite: () => Promise<void>,
  link?: (tx: Queryable, storageId: number) => Promise<void>,
): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await placeStoredBlob(deps, blob, link);
    } catch (error) {
      if (!(error instanceof ObjectVanished) || attempt === PLACEMENT_ATTEMPTS) throw error;
      await rewrite();
    }
  }
}
