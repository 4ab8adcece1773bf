/**
 * Deadlines for a storage request that bound how long we wait on the storage service,
 * not how long a transfer takes: a multi-GB stream may take minutes, but the service
 * must answer, take the next chunk and hand over the next chunk within `ms` each time.
 * Time spent waiting on our own client (a slow upload or download) never counts.
 */
import { DependencyUnavailableError } from "../../core/errors/dependency-unavailable.js";

export interface StallDeadline {
  /** Aborted with a DependencyUnavailableError when the service stalls; pass it to fetch. */
  signal: AbortSignal;
  /** Aborts now with `reason` (e.g. a body that turned out to have the wrong size). */
  abort(reason: Error): void;
  /** Starts waiting on the service (for the response, or for it to take the next chunk). */
  arm(): void;
  /** The service answered; stop waiting. */
  disarm(): void;
  /** The request body, timed only while the service has not taken a chunk we hold. */
  watchUpload(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array>;
  /** The response body, timed only while a read we asked for is pending. */
  watchDownload(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array>;
  /** The error a failed fetch or body read means: the abort reason when we aborted, else "unavailable". */
  failure(error: unknown): unknown;
}

export function stallDeadline(service: string, ms: number): StallDeadline {
  const aborter = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stalled = () => aborter.abort(new DependencyUnavailableError("blob storage", `${service} did not answer within ${ms} ms`));
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(stalled, ms);
  };
  const disarm = () => clearTimeout(timer);
  const failure = (error: unknown): unknown => {
    if (aborter.signal.aborted) return aborter.signal.reason;
    if (error instanceof DependencyUnavailableError) return error;
    const message = error instanceof Error ? error.message : String(error);
    return new DependencyUnavailableError("blob storage", `${service}: ${message}`, { cause: error });
  };
  // High-water mark 0: pull runs only when the consumer is actually waiting for a chunk.
  const onDemand = new CountQueuingStrategy({ highWaterMark: 0 });
  return {
    signal: aborter.signal,
    abort: (reason) => {
      disarm();
      aborter.abort(reason);
    },
    arm,
    disarm,
    failure,
    watchUpload(body) {
      const reader = body.getReader();
      return new ReadableStream<Uint8Array>(
        {
          async pull(controller) {
            // The service pulled: it took what we held. Reading our client is not its time.
            disarm();
            const { done, value } = await reader.read();
            if (done) controller.close();
            else controller.enqueue(value);
            // Until the next pull (or, after the last chunk, until the response) we wait on the service.
            arm();
          },
          cancel: (reason) => reader.cancel(reason),
        },
        onDemand,
      );
    },
    watchDownload(body) {
      const reader = body.getReader();
      return new ReadableStream<Uint8Array>(
        {
          async pull(controller) {
            arm();
            try {
              const { done, value } = await reader.read();
              if (done) controller.close();
              else controller.enqueue(value);
            } catch (error) {
              controller.error(failure(error));
            } finally {
              disarm();
            }
          },
          cancel: (reason) => {
            disarm();
            return reader.cancel(reason);
          },
        },
        onDemand,
      );
    },
  };
}
