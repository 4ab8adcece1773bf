/**
 * Quota enforcement as Quay's check_limits does it (data/model/namespacequota.py): a
 * limit is hit when the namespace's size reaches `limit_bytes * percent / 100`; the hit
 * limit with the highest threshold decides. Reject limits refuse the write (403 DENIED);
 * Warning limits let it through with a warning for the client. Without a quota row,
 * DEFAULT_SYSTEM_REJECT_QUOTA_BYTES (when set) is a 100 % Reject limit.
 */
import { RegistryError } from "../errors/registry-error.js";
import type { Queryable } from "../ports/sql.js";
import { findQuotaLimits, namespaceSize } from "../../db/queries/quota.js";

export interface QuotaSettings {
  /** Quay's FEATURE_QUOTA_MANAGEMENT. */
  enabled: boolean;
  /** Quay's DEFAULT_SYSTEM_REJECT_QUOTA_BYTES (0: none). */
  systemRejectBytes: number;
}

export interface QuotaVerdict {
  severity: "Reject" | "Warning";
  limitBytes: number;
  percent: number;
}

function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

/** The limit a namespace of `size` bytes has reached, if any. */
export async function quotaVerdict(
  sql: Queryable,
  settings: QuotaSettings,
  namespaceId: number,
  size: number,
): Promise<QuotaVerdict | null> {
  const limits = await findQuotaLimits(sql, namespaceId);
  const candidates =
    limits.length > 0
      ? limits.map((l) => ({ severity: l.type, limitBytes: Number(l.limit_bytes), percent: l.percent_of_limit }))
      : settings.systemRejectBytes > 0
        ? [{ severity: "Reject", limitBytes: settings.systemRejectBytes, percent: 100 }]
        : [];
  let hit: QuotaVerdict | null = null;
  let hitThreshold = -1;
  for (const limit of candidates) {
    if (limit.severity !== "Reject" && limit.severity !== "Warning") continue;
    const threshold = Math.floor((limit.limitBytes * limit.percent) / 100);
    if (size >= threshold && threshold > hitThreshold) {
      hit = { severity: limit.severity, limitBytes: limit.limitBytes, percent: limit.percent };
      hitThreshold = threshold;
    }
  }
  return hit;
}

export function quotaExceeded(): RegistryError {
  return new RegistryError("DENIED", "Quota has been exceeded on namespace", {}, 403);
}

/** A `Warning` header value (RFC 9111 code 299, which docker and containerd print). */
export function quotaWarning(verdict: QuotaVerdict): string {
  return `299 - "namespace has reached ${verdict.percent}% of its ${formatBytes(verdict.limitBytes)} quota"`;
}

/** Refuses new bytes while the namespace is at a Reject limit (Quay checks before and during uploads). */
export async function assertRoomForUpload(sql: Queryable, settings: QuotaSettings, namespaceId: number, pendingBytes = 0): Promise<void> {
  if (!settings.enabled) return;
  const size = await namespaceSize(sql, namespaceId);
  if (size === null) return;
  const verdict = await quotaVerdict(sql, settings, namespaceId, size + pendingBytes);
  if (verdict?.severity === "Reject") throw quotaExceeded();
}
