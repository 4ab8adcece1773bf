/**
 * Pier's own state, kept out of Quay's schema: a Quay sharing the database never reads
 * schema `pier`, and its alembic_version stays Quay's. Every statement is idempotent, so
 * migrate() runs the whole list on every start, on databases Pier created and on those
 * Quay manages alike. Add a table by appending its statements; never edit a shipped one.
 */
import type { Queryable } from "../core/ports/sql.js";

/** The schema's statements, in order; each may run any number of times. */
export const PIER_SCHEMA_STATEMENTS: readonly string[] = [
  `CREATE SCHEMA IF NOT EXISTS pier`,
  // Pier's settings of a cache organization beside Quay's proxycacheconfig row.
  `CREATE TABLE IF NOT EXISTS pier.proxy_cache_option (
    organization_id INTEGER PRIMARY KEY REFERENCES "user" (id) ON DELETE CASCADE,
    anonymous_pulls BOOLEAN NOT NULL DEFAULT false
  )`,
  // The last pull of each cached tag: what eviction orders by (least recently pulled first).
  `CREATE TABLE IF NOT EXISTS pier.proxy_tag_pull (
    repository_id INTEGER NOT NULL REFERENCES repository (id) ON DELETE CASCADE,
    tag_name VARCHAR(255) NOT NULL,
    last_pull_ms BIGINT NOT NULL,
    PRIMARY KEY (repository_id, tag_name)
  )`,
  // Per-mirror counters of the repository-mirror sync (Quay keeps none), and the running sync's progress.
  `CREATE TABLE IF NOT EXISTS pier.repo_mirror_stats (
    repository_id INTEGER PRIMARY KEY REFERENCES repository (id) ON DELETE CASCADE,
    runs BIGINT NOT NULL DEFAULT 0,
    failures BIGINT NOT NULL DEFAULT 0,
    tags_synced BIGINT NOT NULL DEFAULT 0,
    tags_failed BIGINT NOT NULL DEFAULT 0,
    tags_deleted BIGINT NOT NULL DEFAULT 0,
    bytes_copied BIGINT NOT NULL DEFAULT 0,
    blobs_copied BIGINT NOT NULL DEFAULT 0,
    blobs_linked BIGINT NOT NULL DEFAULT 0,
    run_tags_total INTEGER NOT NULL DEFAULT 0,
    run_tags_done INTEGER NOT NULL DEFAULT 0,
    last_success_ms BIGINT,
    last_failure_ms BIGINT,
    last_error TEXT
  )`,
  // Prefixed robot tokens (PIER_ROBOT_TOKENS=prefixed), stored as SHA-256. quay_token is the
  // robotaccounttoken.token written beside it: a regeneration in Quay replaces that and so retires this row.
  `CREATE TABLE IF NOT EXISTS pier.robot_token (
    robot_id INTEGER PRIMARY KEY REFERENCES "user" (id) ON DELETE CASCADE,
    token_sha256 CHAR(64) NOT NULL,
    quay_token TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    last_used_ms BIGINT
  )`,
];

/** Creates whatever of schema `pier` is missing; run inside migrate()'s transaction. */
export async function ensurePierSchema(tx: Queryable): Promise<void> {
  for (const statement of PIER_SCHEMA_STATEMENTS) await tx.query(statement);
}
