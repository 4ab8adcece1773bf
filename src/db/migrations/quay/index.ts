/**
 * Quay's schema as its alembic migrations leave it at head 9fa37f66a9b6 (quay/quay,
 * August 2026) on PostgreSQL: tables, columns, defaults, keys, indexes and seeded lookup
 * rows, created in one go instead of replaying Quay's ~170 revisions.
 */
import type { Queryable } from "../../../core/ports/sql.js";
import type { Migration } from "../migration.js";
import { ACCOUNT_TABLES } from "./accounts.js";
import { LOOKUP_TABLES } from "./lookups.js";
import { OPERATION_TABLES } from "./operations.js";
import { POLICY_TABLES } from "./policies.js";
import { REGISTRY_TABLES, repositorySearchIndexes } from "./registry.js";
import { SEEDS } from "./seeds.js";

/** Quay's alembic head this baseline reproduces. */
export const QUAY_HEAD_REVISION = "9fa37f66a9b6";

const ALEMBIC_VERSION_TABLE = `CREATE TABLE alembic_version (
  version_num VARCHAR(32) NOT NULL,
  CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
)`;

/** Quay's repository search needs pg_trgm; true when it is (or can be) installed here. */
async function ensureTrigramExtension(tx: Queryable): Promise<boolean> {
  const { rows } = await tx.query<{ available: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') AS available`,
  );
  if (!rows[0]?.available) return false;
  await tx.query(`CREATE EXTENSION IF NOT EXISTS pg_trgm`);
  return true;
}

/**
 * Quay's base migration gave blobupload.created a server default of the literal local
 * time at which it ran; the database's clock stands in for the migrating host's.
 */
async function stampBlobUploadDefault(tx: Queryable): Promise<void> {
  const { rows } = await tx.query<{ now: string }>(`SELECT to_char(localtimestamp, 'YYYY-MM-DD HH24:MI:SS') AS now`);
  const now = rows[0]?.now ?? "";
  if (!/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/.test(now)) throw new Error(`unexpected database time ${JSON.stringify(now)}`);
  await tx.query(`ALTER TABLE blobupload ALTER COLUMN created SET DEFAULT '${now}'`);
}

async function run(tx: Queryable, statements: readonly string[]): Promise<void> {
  // One statement per call: PGlite's and the extended protocol's query() take exactly one.
  for (const statement of statements) await tx.query(statement);
}

/** Creates Quay's whole schema at QUAY_HEAD_REVISION in an empty database. */
export const quayBaseline: Migration = {
  revision: QUAY_HEAD_REVISION,
  async up(tx) {
    const trigram = await ensureTrigramExtension(tx);
    await run(tx, [
      ALEMBIC_VERSION_TABLE,
      ...LOOKUP_TABLES,
      ...ACCOUNT_TABLES,
      ...REGISTRY_TABLES,
      ...repositorySearchIndexes(trigram),
      ...OPERATION_TABLES,
      ...POLICY_TABLES,
    ]);
    await stampBlobUploadDefault(tx);
    await run(tx, SEEDS);
  },
};
