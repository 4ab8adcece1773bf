/**
 * For runtimes that reset a keep-alive connection when a response leaves a request
 * body unread (workerd does, without `Connection: close`, which it strips): after the
 * handler, read and discard what is left of the body, up to a bound. Clients that
 * reuse the connection (Go's net/http) would otherwise fail their next request.
 * Past the bound the body is cancelled: a connection reset costs less than the edge
 * receiving an unbounded body it will never use.
 */
import type { Context, Next } from "hono";

export function drainUnreadBody(limitBytes: number) {
  return async function drainUnreadBody(c: Context, next: Next): Promise<void> {
    await next();
    const body = c.req.raw.body;
    // A body handed on (the strangler front streams it to legacy) is someone else's to finish.
    if (body === null || c.req.raw.bodyUsed || body.locked) return;
    await discard(body, limitBytes);
  };
}

async function discard(body: ReadableStream<Uint8Array>, limitBytes: number): Promise<void> {
  const reader = body.getReader();
  let read = 0;
  try {
    while (read <= limitBytes) {
      const { value, done } = await reader.read();
      if (done) return;
      read += value.byteLength;
    }
    await reader.cancel();
  } catch {
    // The client went away: nothing left to keep alive.
  }
}
