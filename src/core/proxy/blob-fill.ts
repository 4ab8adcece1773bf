/**
 * Streaming, single-flight fill of a blob the proxy cache does not hold yet. The first
 * caller for a digest, on any instance, takes a lease in the shared cache and leads:
 * it opens the upstream once and streams the bytes to its client while storing them
 * (fill-leader.ts). Every other caller follows, streaming the leader's parts as they are
 * stored (fill-follower.ts). No one waits for the whole blob, the stored copy is
 * committed only once its digest checks out, and an upstream that sent wrong bytes is
 * not asked again for a minute.
 */
import { ObjectVanished, placeStoredBlob } from "../blob-placement.js";
import type { BlobStore } from "../ports/blob-store.js";
import type { Cache } from "../ports/cache.js";
import type { Clock } from "../ports/clock.js";
import type { Hashing } from "../ports/hashing.js";
import type { Sql } from "../ports/sql.js";
import { isSupportedAlgorithm, type Digest } from "../model/digest.js";
import { blobKey } from "../storage-layout.js";
import type { UpstreamBlob } from "../upstream/types.js";
import { BlobFillError } from "./blob-fill-error.js";
import { FillBoard, partKey } from "./fill-board.js";
import { follow } from "./fill-follower.js";
import { partSizesOf, ProgressPublisher, startTee } from "./fill-leader.js";

export { BlobFillError } from "./blob-fill-error.js";
export type { BlobFillFailure } from "./fill-board.js";

export interface BlobFillDeps {
  blobs: BlobStore;
  /** Shared by all instances (Redis/Upstash): the lease and progress live here. */
  cache: Cache;
  hashing: Hashing;
  clock: Clock;
  sql: Sql;
  /** The imagestoragelocation name the blob is placed in (config.storageLocation). */
  location: string;
  /** Part object size; default 4 MiB. The first part is at most 256 KiB, for a quick first byte. */
  partBytes?: number;
  /** Followers' poll interval; default 25 ms. */
  pollMs?: number;
  /** A leader silent this long is presumed dead; default 15 s. */
  stallMs?: number;
  /**
   * Keeps the leader's fill running past the response (workerd: `ctx.waitUntil`), so a
   * client that leaves does not end it for the others. Receives a promise that never rejects.
   */
  background?: (work: Promise<void>) => void;
}

export interface BlobFillRequest {
  /** sha256 or sha512 (others cannot be verified: RangeError). */
  digest: Digest;
  /** From the manifest's descriptor; the upstream must send exactly this many bytes. */
  size: number;
  /** Called by the leader only, at most once per fill. */
  open(signal: AbortSignal): Promise<UpstreamBlob>;
}

const DEFAULT_PART_BYTES = 4 * 1024 * 1024;
const FIRST_PART_BYTES = 256 * 1024;
/** What each sink of the leader's tee may queue beyond the chunk in hand. */
const BUFFER_BYTES = 64 * 1024;
/** Claims tried while leases change hands (a fill ending as this caller arrives). */
const CLAIM_ATTEMPTS = 3;

/**
 * This client's copy of the blob's bytes, streamed as they arrive from the upstream.
 * Rejects with BlobFillError before any byte when the upstream cannot be opened, sends
 * the wrong length, or sent wrong bytes within the last minute; later failures error the stream.
 */
export async function fillBlob(deps: BlobFillDeps, request: BlobFillRequest): Promise<ReadableStream<Uint8Array>> {
  const { digest, size } = request;
  if (!isSupportedAlgorithm(digest.algorithm)) throw new RangeError(`cannot verify ${digest.algorithm} digests`);
  const key = blobKey(digest.text);
  if (key === null) throw new RangeError(`${digest.text} has no storage key`);
  const stallMs = deps.stallMs ?? 15_000;
  const board = new FillBoard(deps.cache, Math.max(5, Math.ceil((2 * stallMs) / 1000)));
  const bad = await board.badMarker(digest.text);
  if (bad !== null) throw new BlobFillError(bad, `the upstream sent a wrong blob for ${digest.text} (${bad}) less than a minute ago`);

  for (let attempt = 1; ; attempt++) {
    const fillId = crypto.randomUUID();
    const leads = attempt === CLAIM_ATTEMPTS || (await board.claim(digest.text, fillId));
    if (leads) return lead(deps, request, board, key, fillId, stallMs);
    const leader = await board.leader(digest.text);
    if (leader !== null) {
      const pollMs = deps.pollMs ?? 25;
      return follow({ board, blobs: deps.blobs, clock: deps.clock, digest: digest.text, size, key, fillId: leader, pollMs, stallMs });
    }
  }
}

async function lead(
  deps: BlobFillDeps,
  request: BlobFillRequest,
  board: FillBoard,
  key: string,
  fillId: string,
  stallMs: number,
): Promise<ReadableStream<Uint8Array>> {
  const { digest, size } = request;
  const committed = await committedBlob(deps, key, digest.text, size);
  if (committed !== null) {
    // Callers that followed this claim meanwhile read the committed blob too.
    await board.publish(fillId, { state: "done", parts: 0, bytes: size, beat: 1 });
    await board.release(digest.text, fillId);
    return committed;
  }
  const publisher = new ProgressPublisher(board, digest.text, fillId, Math.max(5, Math.floor(stallMs / 4)));
  const abort = new AbortController();
  let upstream: UpstreamBlob;
  try {
    upstream = await request.open(abort.signal);
  } catch (error) {
    await publisher.end({ state: "failed", failure: "upstream" });
    throw new BlobFillError("upstream", `the upstream did not send ${digest.text}`, { cause: error });
  }
  if (upstream.size !== null && upstream.size !== size) {
    abort.abort();
    await upstream.body.cancel().catch(() => {});
    await board.markBad(digest.text, "size-mismatch");
    await publisher.end({ state: "failed", failure: "size-mismatch" });
    throw new BlobFillError("size-mismatch", `the upstream sends ${upstream.size} bytes for ${digest.text}, its manifest says ${size}`);
  }
  void publisher.update({ state: "streaming" });
  const partSizes = partSizesOf(size, FIRST_PART_BYTES, deps.partBytes ?? DEFAULT_PART_BYTES);
  const { stream, work } = startTee(
    {
      blobs: deps.blobs,
      sql: deps.sql,
      board,
      hash: deps.hashing.create(digest.algorithm as "sha256" | "sha512"),
      digest: digest.text,
      size,
      key,
      location: deps.location,
      fillId,
      partKeys: partSizes.map((_, index) => partKey(fillId, index)),
      partSizes,
      bufferBytes: BUFFER_BYTES,
    },
    upstream,
    abort,
    publisher,
  );
  deps.background?.(work);
  return stream;
}

/**
 * The blob's bytes when an earlier fill already committed it (its row placed again in
 * case that fill stopped in between); only verified bytes are ever written to the key.
 */
async function committedBlob(deps: BlobFillDeps, key: string, digest: string, size: number): Promise<ReadableStream<Uint8Array> | null> {
  const stat = await deps.blobs.stat(key);
  if (stat?.size !== size) return null;
  try {
    await placeStoredBlob(deps, { digest, size, location: deps.location });
  } catch (error) {
    // GC removed it since the stat: fill it anew.
    if (error instanceof ObjectVanished) return null;
    throw error;
  }
  return (await deps.blobs.get(key))?.body ?? null;
}
