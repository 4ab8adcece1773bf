/** Quay's audit log table `logentry3` (data/model/log.py): kinds are looked up by name. */
import type { Queryable } from "../../core/ports/sql.js";

export interface LogEntry {
  kind: string;
  accountId: number;
  performerId: number | null;
  repositoryId: number | null;
  ip: string | null;
  /** The metadata as Quay serialises it (Python's json.dumps layout). */
  metadataJson: string;
  at: Date;
}

/** Appends to `logentry3`, resolving the kind by name; throws when the kind is unknown. */
export async function insertLogEntry(sql: Queryable, entry: LogEntry): Promise<void> {
  const { rowCount } = await sql.query(
    `INSERT INTO logentry3 (kind_id, account_id, performer_id, repository_id, datetime, ip, metadata_json)
     SELECT k.id, $2, $3, $4, $5, $6, $7 FROM logentrykind k WHERE k.name = $1`,
    [entry.kind, entry.accountId, entry.performerId, entry.repositoryId, entry.at, entry.ip, entry.metadataJson],
  );
  if (rowCount !== 1) throw new Error(`unknown audit log kind "${entry.kind}"`);
}
