/** Wall time of whole-image pulls with skopeo, servers taking turns run by run. */
import type { Skopeo } from "./skopeo.js";

export interface PullTarget {
  name: string;
  kind: "pier" | "peer";
  /** `docker://host/repository:tag`. */
  source: string;
  /** How the client reaches it (transport notes for the report). */
  note: string;
}

export interface PullRow {
  target: PullTarget;
  timesMs: number[];
  medianMs: number;
  error: string | null;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export async function timePulls(
  skopeo: Skopeo,
  targets: readonly PullTarget[],
  runs: number,
  log: (line: string) => void,
): Promise<PullRow[]> {
  const rows: PullRow[] = targets.map((target) => ({ target, timesMs: [], medianMs: Number.NaN, error: null }));
  for (let round = 1; round <= runs; round++) {
    for (const row of rows) {
      if (row.error !== null) continue;
      try {
        const ms = await skopeo.timedPull(row.target.source);
        row.timesMs.push(ms);
        log(`pull ${round}/${runs} · ${row.target.name}: ${(ms / 1000).toFixed(2)} s`);
      } catch (error) {
        row.error = error instanceof Error ? error.message : String(error);
        log(`pull ${round}/${runs} · ${row.target.name} failed: ${row.error}`);
      }
    }
  }
  for (const row of rows) if (row.timesMs.length > 0) row.medianMs = median(row.timesMs);
  return rows;
}
