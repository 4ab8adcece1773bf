/** Markdown building blocks the report's sections share. */
import type { AccountingRow } from "./accounting.js";

/** `value` with `digits` decimals, or a dash when there is no number. */
export const fixed = (value: number, digits: number) => (Number.isFinite(value) ? value.toFixed(digits) : "—");

/** A Pier/peer ratio such as `1.05×`, or a dash. */
export const ratio = (value: number) => (Number.isFinite(value) ? `${value.toFixed(2)}×` : "—");

/** A Markdown table (prettier aligns it afterwards). */
export function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n");
}

/** SQL statements and Redis round trips per pull and scenario. */
export function accountingTable(rows: readonly AccountingRow[]): string {
  return table(
    ["pull", "scenario", "requests", "SQL statements", "Redis round trips", "check"],
    rows.map((row) => [row.pull, row.scenario, String(row.requests), String(row.sql), String(row.redis), row.failures.join("; ") || "ok"]),
  );
}
