/**
 * Audit entries in Quay's `logentry3`, as Quay's log_action writes them: the namespace
 * as the account, the acting user (if any) as the performer, and the metadata
 * serialised the way Python's json.dumps does, so Quay's UI and API read them as its own.
 */
import type { Queryable } from "./ports/sql.js";
import { insertLogEntry } from "../db/queries/audit-log.js";

/** Python's `json.dumps(value)`: `", "` and `": "` separators, non-ASCII escaped as \uXXXX. */
export function pythonJson(value: unknown): string {
  if (value === undefined || value === null) return "null";
  if (typeof value === "string") {
    return JSON.stringify(value).replace(/[\u0080-\uffff]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`);
  }
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return `[${value.map(pythonJson).join(", ")}]`;
  const entries = Object.entries(value as Record<string, unknown>).map(([key, item]) => `${pythonJson(key)}: ${pythonJson(item)}`);
  return `{${entries.join(", ")}}`;
}

export interface AuditEntry {
  /** A `logentrykind` name: push_repo, delete_tag, login_failure, create_repo, … */
  kind: string;
  /** The namespace the entry belongs to (`account_id`). */
  namespaceId: number;
  performerId: number | null;
  repositoryId: number | null;
  ip: string | null;
  metadata: Record<string, unknown>;
  at: Date;
}

export async function recordAudit(tx: Queryable, entry: AuditEntry): Promise<void> {
  await insertLogEntry(tx, {
    kind: entry.kind,
    accountId: entry.namespaceId,
    performerId: entry.performerId,
    repositoryId: entry.repositoryId,
    ip: entry.ip,
    metadataJson: pythonJson(entry.metadata),
    at: entry.at,
  });
}
