/**
 * The two sinks a leading fill feeds in lockstep: its own client and the part objects
 * followers read. Each accepts a chunk only when its reader has room, so the upstream
 * is read at the pace of the slower one and nothing buffers more than a few chunks.
 */
import type { BlobStore } from "../ports/blob-store.js";

/**
 * A readable stream written by `push`, which resolves once the reader wants more (its
 * queue below `bufferBytes`) — or at once when the reader went away or `fail` was called.
 */
export class PushStream {
  readonly stream: ReadableStream<Uint8Array>;
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  /** Resolves the pending pull: set while the reader has room for a chunk. */
  private demand: (() => void) | null = null;
  private wakePush: (() => void) | null = null;
  private ended = false;

  constructor(bufferBytes: number) {
    this.stream = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.controller = controller;
        },
        pull: () =>
          new Promise<void>((resolve) => {
            this.demand = resolve;
            this.wake();
          }),
        cancel: () => {
          this.ended = true;
          this.wake();
        },
      },
      new ByteLengthQueuingStrategy({ highWaterMark: bufferBytes }),
    );
  }

  /** True once the reader cancelled or the stream was closed or failed. */
  get gone(): boolean {
    return this.ended;
  }

  async push(chunk: Uint8Array): Promise<void> {
    while (!this.ended && this.demand === null) await new Promise<void>((resolve) => (this.wakePush = resolve));
    if (this.ended) return;
    const pulled = this.demand!;
    this.demand = null;
    this.controller.enqueue(chunk);
    pulled();
  }

  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.controller.close();
    this.wake();
  }

  fail(error: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.controller.error(error);
    this.wake();
  }

  private wake(): void {
    this.wakePush?.();
    this.wakePush = null;
  }
}

interface OpenPart {
  sink: PushStream;
  room: number;
}

/**
 * Writes a stream of known length into part objects of the given sizes, each streamed
 * straight into its PUT. Parts are reported stored in order. A storage failure stops the
 * writing (later writes are no-ops) and is kept in `failure`; the caller decides.
 */
export class PartWriter {
  private current: OpenPart | null = null;
  private opened = 0;
  /** Settles after every PUT started so far, in order; never rejects. */
  private stored: Promise<void> = Promise.resolve();
  failure: unknown = null;

  constructor(
    private readonly blobs: BlobStore,
    private readonly keys: readonly string[],
    private readonly sizes: readonly number[],
    private readonly bufferBytes: number,
    /** Called with the number of parts stored, each time one more is (in order). */
    private readonly onStored: (parts: number) => void,
  ) {}

  /** Keys of the parts started so far (stored or not): what cleanup must delete. */
  get startedKeys(): readonly string[] {
    return this.keys.slice(0, this.opened);
  }

  async write(chunk: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < chunk.byteLength && this.failure === null) {
      const part = this.current ?? this.open();
      if (part === null) return;
      const take = Math.min(part.room, chunk.byteLength - offset);
      await part.sink.push(chunk.subarray(offset, offset + take));
      offset += take;
      part.room -= take;
      if (part.room === 0) {
        part.sink.close();
        this.current = null;
      }
    }
  }

  /** Resolves once every started PUT has settled; check `failure` afterwards. */
  async settled(): Promise<void> {
    await this.stored;
  }

  /** Stops writing: the open part's PUT fails, and all PUTs settle before this resolves. */
  async abort(reason: unknown): Promise<void> {
    this.failure ??= reason;
    this.current?.sink.fail(reason);
    this.current = null;
    await this.stored;
  }

  private open(): OpenPart | null {
    const index = this.opened;
    if (index === this.keys.length) {
      this.failure = new Error("more bytes than the parts hold");
      return null;
    }
    this.opened++;
    const part: OpenPart = { sink: new PushStream(this.bufferBytes), room: this.sizes[index]! };
    const put = this.blobs.put(this.keys[index]!, part.sink.stream, part.room).then(
      () => null,
      (error: unknown) => {
        this.failure ??= error;
        part.sink.fail(error);
        return error;
      },
    );
    this.stored = this.stored.then(async () => {
      const error = await put;
      if (error === null && this.failure === null) this.onStored(index + 1);
    });
    this.current = part;
    return part;
  }
}
