/** The Node runtimes' schedule for batched writes (pull audit, last pulls): every few seconds, and once more at shutdown. */
import type { Queryable } from "../core/ports/sql.js";

/** A buffer written in batches: `flush` writes when due, or at once with `force`. */
export interface BatchedWrites {
  flush(sql: Queryable, force?: boolean): Promise<void>;
}

export function startAuditFlusher(
  buffer: BatchedWrites,
  sql: Queryable,
  onError: (error: unknown) => void,
  everyMs = 1_000,
): () => Promise<void> {
  const timer = setInterval(() => buffer.flush(sql).catch(onError), everyMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await buffer.flush(sql, true).catch(onError);
  };
}
