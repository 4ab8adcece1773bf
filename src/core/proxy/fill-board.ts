/**
 * The shared cache state of blob fills, visible to every instance: the lease naming the
 * leading fill of a digest, each fill's progress record, and the short-lived marker an
 * upstream that sent wrong bytes leaves. A cache failure never fails a fill: a leader
 * that cannot publish keeps serving its own client, and a caller that cannot claim the
 * lease leads without one (no single flight while the cache is down).
 */
import type { Cache } from "../ports/cache.js";

/** Why a fill failed; the kinds of BlobFillError. */
export type BlobFillFailure = "wrong-bytes" | "size-mismatch" | "upstream" | "stalled" | "storage";

/** `opening` until the upstream answered with the right length; `done` once verified and committed. */
export type FillState = "opening" | "streaming" | "done" | "failed";

export interface FillProgress {
  state: FillState;
  /** Parts stored and verified so far, readable by followers in order. */
  parts: number;
  /** Bytes those parts hold. */
  bytes: number;
  /** Bumped by every publish (heartbeats included): an unchanged beat means a silent leader. */
  beat: number;
  failure?: BlobFillFailure;
}

/** A marker keeps wrong bytes from being downloaded again this long. */
const BAD_MARKER_SECONDS = 60;

const leaseKey = (digest: string) => `pier:fill:${digest}`;
const progressKey = (fillId: string) => `pier:fill-progress:${fillId}`;
const badKey = (digest: string) => `pier:fill-bad:${digest}`;

/** Object key of part `index` of a fill; under uploads/ so the orphan sweep removes leftovers. */
export function partKey(fillId: string, index: number): string {
  return `uploads/proxy-${fillId}/${index}`;
}

const FAILURES: ReadonlySet<string> = new Set<BlobFillFailure>(["wrong-bytes", "size-mismatch", "upstream", "stalled", "storage"]);

export class FillBoard {
  constructor(
    private readonly cache: Cache,
    /** Lease lifetime; the leader refreshes it with every heartbeat. */
    private readonly leaseSeconds: number,
  ) {}

  /** True when `fillId` now leads the fill of `digest` (also when the cache cannot say). */
  async claim(digest: string, fillId: string): Promise<boolean> {
    return this.cache.setIfAbsent(leaseKey(digest), fillId, this.leaseSeconds).catch(() => true);
  }

  /** The leading fill's id, null when none holds the lease or the cache cannot say. */
  async leader(digest: string): Promise<string | null> {
    return this.cache.get(leaseKey(digest)).catch(() => null);
  }

  async refreshLease(digest: string, fillId: string): Promise<void> {
    await this.cache.set(leaseKey(digest), fillId, this.leaseSeconds).catch(() => {});
  }

  /** Drops the lease if `fillId` still holds it (a new fill may have taken it since). */
  async release(digest: string, fillId: string): Promise<void> {
    if ((await this.leader(digest)) === fillId) await this.cache.delete([leaseKey(digest)]).catch(() => {});
  }

  /** Outlives the lease, so late followers still learn how the fill ended. */
  async publish(fillId: string, progress: FillProgress): Promise<void> {
    await this.cache.set(progressKey(fillId), JSON.stringify(progress), this.leaseSeconds + 60).catch(() => {});
  }

  /** The fill's last published progress; null when none is known (or the cache cannot say). */
  async progress(fillId: string): Promise<FillProgress | null> {
    const text = await this.cache.get(progressKey(fillId)).catch(() => null);
    return text === null ? null : (JSON.parse(text) as FillProgress);
  }

  async markBad(digest: string, failure: BlobFillFailure): Promise<void> {
    await this.cache.set(badKey(digest), failure, BAD_MARKER_SECONDS).catch(() => {});
  }

  /** How the last fill of `digest` found wrong bytes, within the marker's minute. */
  async badMarker(digest: string): Promise<BlobFillFailure | null> {
    const value = await this.cache.get(badKey(digest)).catch(() => null);
    return value !== null && FAILURES.has(value) ? (value as BlobFillFailure) : null;
  }
}
