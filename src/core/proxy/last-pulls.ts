/**
 * The last pull of each cached tag, batched like the pull audit (core/audit-buffer.ts):
 * the manifest handler adds (repository, tag, time) in memory; the runtime writes the
 * newest time per tag in one statement per batch, off the response path (the edge from
 * waitUntil, Node from a timer), so recording costs a pull no database round trip.
 * Times of a process that dies before its next flush are lost; eviction then sees an
 * older pull, which only makes that tag a little likelier to go. Beyond `maxPending`
 * distinct tags, the earliest added is dropped.
 */
import type { Queryable } from "../ports/sql.js";
import { recordTagPulls, type TagPull } from "../../db/queries/proxy-usage.js";

export class LastPulls {
  /** `repositoryId:tag` → the newest pull seen; insertion order is the drop order. */
  private pending = new Map<string, TagPull>();
  private lastFlush: number;

  constructor(
    private readonly now: () => number,
    private readonly intervalMs = 1_000,
    private readonly batchSize = 1_000,
    private readonly maxPending = 100_000,
  ) {
    this.lastFlush = now();
  }

  /** Notes a pull of tag `tag` of repository `repositoryId` at `atMs` (ms since the epoch). */
  add(repositoryId: number, tag: string, atMs: number): void {
    const key = `${repositoryId}:${tag}`;
    const seen = this.pending.get(key);
    if (seen) {
      if (atMs > seen.atMs) seen.atMs = atMs;
      return;
    }
    if (this.pending.size >= this.maxPending) this.pending.delete(this.pending.keys().next().value!);
    this.pending.set(key, { repositoryId, tag, atMs });
  }

  /** How many tags wait to be written. */
  get size(): number {
    return this.pending.size;
  }

  /** Writes what is pending when the interval has passed (or `force`); a failed batch is kept for the next time. */
  async flush(sql: Queryable, force = false): Promise<void> {
    if (this.pending.size === 0 || (!force && this.now() - this.lastFlush < this.intervalMs)) return;
    this.lastFlush = this.now();
    while (this.pending.size > 0) {
      const batch: TagPull[] = [];
      for (const [key, pull] of this.pending) {
        if (batch.length === this.batchSize) break;
        batch.push(pull);
        this.pending.delete(key);
      }
      try {
        await recordTagPulls(sql, batch);
      } catch (error) {
        for (const pull of batch) this.add(pull.repositoryId, pull.tag, pull.atMs);
        throw error;
      }
    }
  }
}
