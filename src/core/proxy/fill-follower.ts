/**
 * A follower's copy of a blob another caller (maybe another instance) is filling: the
 * leader's published parts streamed in order as they appear, polled through the cache
 * on the follower's own timers (in workerd a request cannot wait on another request's
 * I/O). Once the parts are gone the fill has committed or failed, and the follower
 * finishes from the committed blob or errors. A leader whose progress stops beating for
 * `stallMs` is presumed dead: the follower errors and frees the lease for a new fill.
 */
import type { BlobStore } from "../ports/blob-store.js";
import type { Clock } from "../ports/clock.js";
import { sleep } from "../single-flight.js";
import { BlobFillError } from "./blob-fill-error.js";
import { partKey, type FillBoard, type FillProgress } from "./fill-board.js";

export interface FollowContext {
  board: FillBoard;
  blobs: BlobStore;
  clock: Clock;
  digest: string;
  size: number;
  /** The committed blob's key. */
  key: string;
  fillId: string;
  pollMs: number;
  stallMs: number;
}

/** Watches a fill's progress, telling a live leader from a silent one. */
class Watch {
  private beat = -1;
  private changedAt: number;

  constructor(private readonly context: FollowContext) {
    this.changedAt = context.clock.now();
  }

  /** The latest progress; throws when the fill failed or its leader went silent. */
  async read(): Promise<FillProgress | null> {
    const { board, clock, fillId, digest, stallMs } = this.context;
    const progress = await board.progress(fillId);
    if (progress !== null && progress.beat !== this.beat) {
      this.beat = progress.beat;
      this.changedAt = clock.now();
    }
    if (progress?.state === "failed") throw new BlobFillError(progress.failure ?? "upstream", `the fill of ${digest} failed`);
    if (progress?.state !== "done" && clock.now() - this.changedAt > stallMs) {
      await board.release(digest, fillId);
      throw new BlobFillError("stalled", `the fill of ${digest} made no progress for ${stallMs} ms`);
    }
    return progress;
  }

  /** Counts reading a part as life, so a slow follower never blames the leader. */
  touch(): void {
    this.changedAt = this.context.clock.now();
  }
}

/**
 * Waits until the fill's leader reached its upstream; resolves with the follower's
 * stream, or rejects as the fill failed (size mismatch, upstream refused) or stalled.
 */
export async function follow(context: FollowContext): Promise<ReadableStream<Uint8Array>> {
  const watch = new Watch(context);
  for (;;) {
    const progress = await watch.read();
    if (progress !== null && progress.state !== "opening") break;
    await sleep(context.pollMs);
  }
  return generatorStream(followerBytes(context, watch));
}

async function* followerBytes(context: FollowContext, watch: Watch): AsyncGenerator<Uint8Array> {
  const { blobs, fillId, size, pollMs } = context;
  let sent = 0;
  let part = 0;
  for (;;) {
    const progress = await watch.read();
    while (progress !== null && part < progress.parts) {
      const read = await blobs.get(partKey(fillId, part));
      // The leader deletes parts only after publishing the end: the blob is committed or the fill failed.
      if (read === null) return yield* committedFrom(context, watch, sent);
      for await (const chunk of readChunks(read.body)) {
        sent += chunk.byteLength;
        yield chunk;
      }
      part++;
      watch.touch();
    }
    if (sent === size) return;
    if (progress?.state === "done") return yield* committedFrom(context, watch, sent);
    await sleep(pollMs);
  }
}

/** The rest of the blob from its committed object, once the fill is done. */
async function* committedFrom(context: FollowContext, watch: Watch, offset: number): AsyncGenerator<Uint8Array> {
  const progress = await watch.read();
  const read = progress?.state === "done" ? await context.blobs.get(context.key, { offset }) : null;
  if (read === null) throw new BlobFillError("stalled", `the parts of the fill of ${context.digest} are gone`);
  yield* readChunks(read.body);
}

async function* readChunks(body: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      if (value.byteLength > 0) yield value;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

/** A pull-driven stream over a generator; cancelling it ends the generator (and its reads). */
export function generatorStream(chunks: AsyncGenerator<Uint8Array>): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const { value, done } = await chunks.next();
        if (done) controller.close();
        else controller.enqueue(value);
      },
      async cancel() {
        await chunks.return(undefined);
      },
    },
    { highWaterMark: 0 },
  );
}
