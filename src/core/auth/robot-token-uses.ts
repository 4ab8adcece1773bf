/**
 * Last-used times of prefixed robot tokens, batched like the pull audit
 * (core/audit-buffer.ts): a login notes (robot, time) in memory and the runtime writes the
 * newest time per robot in one statement per batch, off the response path (the edge from
 * waitUntil, Node from a timer), so a login costs no extra write. Times of a process that
 * dies before its next flush are lost; the robot then looks unused a little longer.
 */
import type { Queryable } from "../ports/sql.js";
import { recordRobotTokenUses } from "../../db/queries/robot-tokens.js";

export class RobotTokenUses {
  /** Robot id → newest use (ms since the epoch). */
  private pending = new Map<number, number>();
  private lastFlush: number;

  constructor(
    private readonly now: () => number,
    private readonly intervalMs = 1_000,
    private readonly maxPending = 100_000,
  ) {
    this.lastFlush = now();
  }

  /** Notes a use of robot `robotId`'s prefixed token at `atMs`; beyond `maxPending` robots new ones wait for a flush. */
  add(robotId: number, atMs: number): void {
    const seen = this.pending.get(robotId);
    if (seen !== undefined) this.pending.set(robotId, Math.max(seen, atMs));
    else if (this.pending.size < this.maxPending) this.pending.set(robotId, atMs);
  }

  /** Writes what is pending when the interval has passed (or `force`); a failed batch is kept for the next time. */
  async flush(sql: Queryable, force = false): Promise<void> {
    if (this.pending.size === 0 || (!force && this.now() - this.lastFlush < this.intervalMs)) return;
    this.lastFlush = this.now();
    const batch = this.pending;
    this.pending = new Map();
    try {
      await recordRobotTokenUses(sql, batch);
    } catch (error) {
      for (const [robotId, atMs] of batch) this.add(robotId, atMs);
      throw error;
    }
  }
}
