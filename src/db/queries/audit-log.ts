/** Quay's audit log table `logentry3` (data/model/log.py): kinds are looked up by name. */
import type { Queryable } from "../../core/ports/sql.js";
import { intArray, textArray } from "./arrays.js";

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

export interface BatchedLogEntry extends Omit<LogEntry, "performerId"> {
  /** A username, resolved to `performer_id` on insert; null for none. */
  performer: string | null;
}

/** Appends many entries in one statement. */
export async function insertLogEntries(sql: Queryable, entries: readonly BatchedLogEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await sql.query(
    `INSERT INTO logentry3 (kind_id, account_id, performer_id, repository_id, datetime, ip, metadata_json)
     SELECT k.id, e.account_id, (SELECT u.id FROM "user" u WHERE u.username = e.performer), e.repository_id, e.at, e.ip, e.metadata_json
     FROM unnest($1::text[], $2::int[], $3::text[], $4::int[], $5::timestamp[], $6::text[], $7::text[]) WITH ORDINALITY
       AS e(kind, account_id, performer, repository_id, at, ip, metadata_json, position)
     JOIN logentrykind k ON k.name = e.kind
     ORDER BY e.position`,
    [
      textArray(entries.map((e) => e.kind)),
      intArray(entries.map((e) => e.accountId)),
      textArray(entries.map((e) => e.performer)),
      intArray(entries.map((e) => e.repositoryId)),
      textArray(entries.map((e) => e.at.toISOString())),
      textArray(entries.map((e) => e.ip)),
      textArray(entries.map((e) => e.metadataJson)),
    ],
  );
}

/**
 * Adds a log kind of Pier's own to Quay's `logentrykind` when it is missing — only when
 * first used, so a database Quay manages gains nothing until a Pier-only feature writes.
 */
export async function ensureLogKind(tx: Queryable, name: string): Promise<void> {
  await tx.query(
    `INSERT INTO logentrykind (name) SELECT $1::varchar WHERE NOT EXISTS (SELECT 1 FROM logentrykind WHERE name = $1::varchar)`,
    [name],
  );
}
