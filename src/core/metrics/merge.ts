/**
 * Summing the metrics of several processes that serve one port (the origin's workers),
 * so /metrics reports the group as one: counters and histogram parts add up, and so do
 * gauges of amounts (memory, uploads in flight, open descriptors). Gauges that are a
 * moment or an identity are not amounts: a start time is the earliest, a last-success
 * timestamp or pier_build_info the latest or highest, a remaining budget the lowest.
 */
type Combine = (a: number, b: number) => number;

/** Families whose series are not summed, and how they combine instead. */
const NOT_SUMMED: Readonly<Record<string, Combine>> = {
  process_start_time_seconds: Math.min,
  pier_build_info: Math.max,
  pier_job_last_success_timestamp_seconds: Math.max,
  pier_proxy_rate_limit_remaining: Math.min,
};

function family(key: string): string {
  const brace = key.indexOf("{");
  return brace === -1 ? key : key.slice(0, brace);
}

/** One snapshot (exposition key → value) of the whole group from each process's snapshot. */
export function mergeSnapshots(snapshots: readonly Readonly<Record<string, number>>[]): Record<string, number> {
  const merged: Record<string, number> = {};
  for (const snapshot of snapshots) {
    for (const [key, value] of Object.entries(snapshot)) {
      const previous = merged[key];
      if (previous === undefined) merged[key] = value;
      else merged[key] = (NOT_SUMMED[family(key)] ?? ((a, b) => a + b))(previous, value);
    }
  }
  return merged;
}
