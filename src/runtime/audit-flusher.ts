/** The Node runtimes' schedule for batched pull audit entries: every few seconds, and once more at shutdown. */
import type { PullAuditBuffer } from "../core/audit-buffer.js";
import type { Queryable } from "../core/ports/sql.js";

export function startAuditFlusher(
  buffer: PullAuditBuffer,
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
