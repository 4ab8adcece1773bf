/**
 * The leading fill of a blob: reads the upstream body once and tees each chunk, in
 * lockstep, to its own client and into part objects that followers stream. The digest
 * is computed on the way; the client's last chunk and the last part are held back until
 * the length and digest check out, so a wrong blob never completes anywhere. Only then
 * is the blob written to its content key and its storage row placed.
 */
import type { BlobStore } from "../ports/blob-store.js";
import type { IncrementalHash } from "../ports/hashing.js";
import type { Sql } from "../ports/sql.js";
import type { UpstreamBlob } from "../upstream/types.js";
import { concatenated, writeObject } from "../push/objects.js";
import { placeWrittenBlob } from "../blob-placement.js";
import { BlobFillError } from "./blob-fill-error.js";
import type { BlobFillFailure, FillBoard, FillProgress } from "./fill-board.js";
import { PartWriter, PushStream } from "./lockstep-tee.js";

export interface LeadContext {
  blobs: BlobStore;
  sql: Sql;
  board: FillBoard;
  hash: IncrementalHash;
  digest: string;
  size: number;
  /** The committed blob's key. */
  key: string;
  location: string;
  fillId: string;
  partKeys: readonly string[];
  partSizes: readonly number[];
  bufferBytes: number;
}

/** Publishes the fill's progress in order (coalescing bursts) and beats while the leader lives. */
export class ProgressPublisher {
  private readonly snapshot: FillProgress = { state: "opening", parts: 0, bytes: 0, beat: 0 };
  private sending: Promise<void> = Promise.resolve();
  private dirty = false;
  private inFlight = false;
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(
    private readonly board: FillBoard,
    private readonly digest: string,
    private readonly fillId: string,
    heartbeatMs: number,
  ) {
    this.timer = setInterval(() => {
      void this.update({});
      void board.refreshLease(digest, fillId);
    }, heartbeatMs);
    void this.update({});
  }

  update(change: Partial<FillProgress>): Promise<void> {
    Object.assign(this.snapshot, change);
    this.snapshot.beat++;
    this.dirty = true;
    if (!this.inFlight) {
      this.inFlight = true;
      this.sending = (async () => {
        while (this.dirty) {
          this.dirty = false;
          await this.board.publish(this.fillId, { ...this.snapshot });
        }
        this.inFlight = false;
      })();
    }
    return this.sending;
  }

  /** The last word: stops the heartbeat, publishes the end state, then frees the lease. */
  async end(change: Partial<FillProgress>): Promise<void> {
    clearInterval(this.timer);
    await this.update(change);
    await this.board.release(this.digest, this.fillId);
  }
}

/** Part sizes for a blob: a small first part for a quick first byte, then `partBytes` each. */
export function partSizesOf(size: number, firstPartBytes: number, partBytes: number): number[] {
  const sizes: number[] = [];
  for (let left = size, next = Math.min(firstPartBytes, partBytes); left > 0; next = partBytes) {
    sizes.push(Math.min(next, left));
    left -= sizes[sizes.length - 1]!;
  }
  return sizes;
}

/** The leader's client stream; the tee runs in the returned `work`, which never rejects. */
export function startTee(
  context: LeadContext,
  upstream: UpstreamBlob,
  abort: AbortController,
  publisher: ProgressPublisher,
): { stream: ReadableStream<Uint8Array>; work: Promise<void> } {
  const client = new PushStream(context.bufferBytes);
  const work = tee(context, upstream, abort, publisher, client).catch((error: unknown) => client.fail(error));
  return { stream: client.stream, work };
}

async function tee(context: LeadContext, upstream: UpstreamBlob, abort: AbortController, publisher: ProgressPublisher, client: PushStream) {
  const { board, digest, size, partSizes } = context;
  const offsets = [0];
  for (const part of partSizes) offsets.push(offsets[offsets.length - 1]! + part);
  let verified = false;
  let storedParts = 0;
  let published = 0;
  const publishStored = () => {
    // The last part becomes visible only once the whole blob is verified.
    const visible = verified ? storedParts : Math.min(storedParts, partSizes.length - 1);
    if (visible <= published) return;
    published = visible;
    void publisher.update({ parts: visible, bytes: offsets[visible]! });
  };
  const writer = new PartWriter(context.blobs, context.partKeys, partSizes, context.bufferBytes, (parts) => {
    storedParts = parts;
    publishStored();
  });
  let failed: BlobFillFailure | null = null;
  const fail = async (kind: BlobFillFailure) => {
    failed = kind;
    await publisher.end({ state: "failed", failure: kind });
  };
  const removeParts = () => Promise.all(writer.startedKeys.map((key) => context.blobs.delete(key).catch(() => {})));

  const reader = upstream.body.getReader();
  let received = 0;
  let held: Uint8Array | null = null;
  try {
    for (;;) {
      const read = await reader.read().catch((error: unknown) => {
        throw new BlobFillError("upstream", `the upstream broke off ${digest} after ${received} of ${size} bytes`, { cause: error });
      });
      if (read.done) break;
      const chunk = read.value;
      received += chunk.byteLength;
      if (received > size) throw new BlobFillError("wrong-bytes", `the upstream sent more than the ${size} bytes of ${digest}`);
      context.hash.update(chunk);
      if (received === size) held = chunk;
      await Promise.all([held === chunk ? undefined : client.push(chunk), writer.write(chunk)]);
      // Storage failing ends the fill for followers; this client still gets its bytes.
      if (writer.failure !== null && failed === null) await fail("storage");
      if (writer.failure !== null && client.gone) throw new BlobFillError("storage", `storing ${digest} failed and its client left`);
    }
    if (received < size) throw new BlobFillError("wrong-bytes", `the upstream sent ${received} of the ${size} bytes of ${digest}`);
    const actual = context.hash.digest();
    if (actual !== digest) throw new BlobFillError("wrong-bytes", `the upstream's bytes for ${digest} hash to ${actual}`);
  } catch (error) {
    abort.abort();
    await reader.cancel().catch(() => {});
    const failure = error instanceof BlobFillError ? error : new BlobFillError("upstream", `reading ${digest} failed`, { cause: error });
    if (failure.kind === "wrong-bytes") await board.markBad(digest, "wrong-bytes");
    await fail(failure.kind);
    await writer.abort(failure);
    await removeParts();
    return client.fail(failure);
  }

  verified = true;
  publishStored();
  if (held !== null) await client.push(held);
  client.close();
  await writer.settled();
  if (writer.failure !== null) {
    if (failed === null) await fail("storage");
    await removeParts();
    return;
  }
  try {
    await commit(context);
  } catch {
    await fail("storage");
    await removeParts();
    return;
  }
  await publisher.end({ state: "done", parts: partSizes.length, bytes: size });
  await removeParts();
}

/** Writes the verified parts to the blob's content key and places its storage row. */
async function commit(context: LeadContext): Promise<void> {
  const { blobs, partKeys, key, size } = context;
  const write = async () => {
    if (partKeys.length === 1) await blobs.copy(partKeys[0]!, key);
    else await writeObject(blobs, key, partKeys.length === 0 ? emptyStream() : concatenated(blobs, partKeys), size);
  };
  await write();
  // The parts stay until the blob is recorded, so an object GC removed meanwhile is written again.
  await placeWrittenBlob(context, { digest: context.digest, size, location: context.location }, write);
}

function emptyStream(): ReadableStream<Uint8Array> {
  return new ReadableStream({ start: (controller) => controller.close() });
}
