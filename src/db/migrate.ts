/**
 * Brings a database to Pier's schema, tracked in Quay's own `alembic_version` table:
 *
 *   no alembic_version        → create Quay's schema at head, seed it, stamp the head
 *   a revision Pier knows     → apply the revisions that follow it (none at the head)
 *   any other revision(s)     → a database Quay manages: leave Quay's tables as they are
 *
 * Then, whatever the revision, Pier's own schema `pier` is brought up to date
 * (pier-schema.ts): Quay never reads it, so this is safe on a database Quay manages.
 * Everything runs in one transaction under a transaction-scoped advisory lock, so two
 * processes starting together serialise and the second finds the work done.
 */
import type { Queryable, Sql } from "../core/ports/sql.js";
import { MIGRATIONS } from "./migrations/index.js";
import { ensurePierSchema } from "./pier-schema.js";
import type { Migration } from "./migrations/migration.js";

export { QUAY_HEAD_REVISION } from "./migrations/quay/index.js";

/** Advisory lock key of schema migrations ("PIER" as a 32-bit integer). */
export const MIGRATION_LOCK_KEY = 0x50494552;

/** Revisions in alembic_version; null when the table does not exist. */
async function stampedRevisions(tx: Queryable): Promise<string[] | null> {
  const { rows } = await tx.query<{ present: boolean }>(`SELECT to_regclass('alembic_version') IS NOT NULL AS present`);
  if (!rows[0]?.present) return null;
  const stamped = await tx.query<{ version_num: string }>(`SELECT version_num FROM alembic_version`);
  return stamped.rows.map((row) => row.version_num);
}

/** What still has to run, or [] for a database whose revision is not Pier's to move. */
function pendingMigrations(stamped: string[] | null): readonly Migration[] {
  if (stamped === null) return MIGRATIONS;
  if (stamped.length !== 1) return [];
  const index = MIGRATIONS.findIndex((migration) => migration.revision === stamped[0]);
  return index === -1 ? [] : MIGRATIONS.slice(index + 1);
}

async function stamp(tx: Queryable, previous: string | null, revision: string): Promise<void> {
  if (previous === null) await tx.query(`INSERT INTO alembic_version (version_num) VALUES ($1)`, [revision]);
  else await tx.query(`UPDATE alembic_version SET version_num = $1 WHERE version_num = $2`, [revision, previous]);
}

/** Applies pending schema revisions; returns the ids applied, oldest first. */
export async function migrate(sql: Sql): Promise<{ applied: string[] }> {
  return sql.transaction(async (tx) => {
    // Each statement must see what a process that held the lock before us committed,
    // whatever the database's default isolation level.
    await tx.query(`SET TRANSACTION ISOLATION LEVEL READ COMMITTED`);
    await tx.query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`);
    const stamped = await stampedRevisions(tx);
    const applied: string[] = [];
    let previous = stamped?.[0] ?? null;
    for (const migration of pendingMigrations(stamped)) {
      await migration.up(tx);
      await stamp(tx, previous, migration.revision);
      previous = migration.revision;
      applied.push(migration.revision);
    }
    await ensurePierSchema(tx);
    return { applied };
  });
}
