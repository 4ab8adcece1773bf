/**
 * Pull audit entries (Quay's `pull_repo`), batched: Quay writes one row per pull inside
 * the request; Pier keeps the entries in memory and writes them in one statement per
 * batch, off the response path — the edge from waitUntil, Node from a timer — so a warm
 * pull still costs no database round trip. Entries of a process that dies before its
 * next flush are lost (at most one interval's worth), as Quay allows for pulls
 * (ALLOW_PULLS_WITHOUT_STRICT_LOGGING).
 */
import { pythonJson } from "./audit.js";
import type { Queryable } from "./ports/sql.js";
import { insertLogEntries } from "../db/queries/audit-log.js";

export interface PullAudit {
  namespaceId: number;
  repositoryId: number;
  /** The caller's username (resolved to `performer_id` when written); null for anonymous pulls. */
  performer: string | null;
  ip: string | null;
  metadata: Record<string, unknown>;
  at: Date;
}

export class AuditBuffer {
  private pending: PullAudit[] = [];
  private lastFlush: number;

  constructor(
    private readonly now: () => number,
    private readonly intervalMs = 5_000,
    private readonly maxBatch = 500,
  ) {
    this.lastFlush = now();
  }

  add(entry: PullAudit): void {
    // A bound on memory if the database stays away: the oldest entries go first.
    if (this.pending.length >= this.maxBatch * 20) this.pending.shift();
    this.pending.push(entry);
  }

  /** Writes what is pending when the interval has passed (or `force`); failed batches are retried next time. */
  async flush(sql: Queryable, force = false): Promise<void> {
    if (this.pending.length === 0 || (!force && this.now() - this.lastFlush < this.intervalMs)) return;
    this.lastFlush = this.now();
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, this.maxBatch);
      try {
        await insertLogEntries(
          sql,
          batch.map((e) => ({
            kind: "pull_repo",
            accountId: e.namespaceId,
            performer: e.performer,
            repositoryId: e.repositoryId,
            ip: e.ip,
            metadataJson: pythonJson(e.metadata),
            at: e.at,
          })),
        );
      } catch (error) {
        this.pending.unshift(...batch);
        throw error;
      }
    }
  }
}
