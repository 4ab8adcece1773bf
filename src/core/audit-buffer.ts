/**
 * Pull audit entries (Quay's `pull_repo`), batched: Quay writes one row per pull inside
 * the request; Pier records a few fields in memory and writes them in one statement per
 * batch, off the response path — the edge from waitUntil, Node from a timer — so a warm
 * pull still costs no database round trip. The metadata is assembled only then. Entries
 * of a process that dies before its next flush are lost (seconds' worth), as Quay allows
 * for pulls (ALLOW_PULLS_WITHOUT_STRICT_LOGGING); beyond `maxPending` the oldest go.
 */
import { pythonJson } from "./audit.js";
import type { Queryable } from "./ports/sql.js";
import { insertLogEntries } from "../db/queries/audit-log.js";

export interface PullAudit {
  namespaceId: number;
  repositoryId: number;
  namespace: string;
  repository: string;
  /** The caller's username (resolved to `performer_id` when written); null for anonymous pulls. */
  performer: string | null;
  ip: string | null;
  userAgent: string;
  /** What was pulled: a tag, or a manifest digest. */
  tag: string | null;
  digest: string | null;
  /** Milliseconds since the epoch. */
  at: number;
}

/** Quay's track_and_log metadata for a pull. */
function metadata(entry: PullAudit): Record<string, unknown> {
  return {
    repo: entry.repository,
    namespace: entry.namespace,
    "user-agent": entry.userAgent,
    ...(entry.performer === null ? {} : { username: entry.performer }),
    ...(entry.tag === null ? { manifest_digest: entry.digest } : { tag: entry.tag }),
  };
}

export class PullAuditBuffer {
  private pending: PullAudit[] = [];
  private lastFlush: number;

  constructor(
    private readonly now: () => number,
    private readonly intervalMs = 1_000,
    private readonly batchSize = 1_000,
    private readonly maxPending = 100_000,
  ) {
    this.lastFlush = now();
  }

  add(entry: PullAudit): void {
    if (this.pending.length >= this.maxPending) this.pending.shift();
    this.pending.push(entry);
  }

  /** Writes what is pending when the interval has passed (or `force`); a failed batch is kept for the next time. */
  async flush(sql: Queryable, force = false): Promise<void> {
    if (this.pending.length === 0 || (!force && this.now() - this.lastFlush < this.intervalMs)) return;
    this.lastFlush = this.now();
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, this.batchSize);
      try {
        await insertLogEntries(
          sql,
          batch.map((e) => ({
            kind: "pull_repo",
            accountId: e.namespaceId,
            performer: e.performer,
            repositoryId: e.repositoryId,
            ip: e.ip,
            metadataJson: pythonJson(metadata(e)),
            at: new Date(e.at),
          })),
        );
      } catch (error) {
        this.pending.unshift(...batch);
        throw error;
      }
    }
  }
}
