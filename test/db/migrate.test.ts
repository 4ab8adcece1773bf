/**
 * migrate() as a process sees it: creates and stamps an empty database once, is a no-op
 * afterwards, never touches a database Quay manages at another revision, is atomic, and
 * serialises concurrent starts. Real PostgreSQL (directly and through Neon's driver and the
 * local Neon gateways), PGlite in memory, and `npm run migrate`.
 */
import { afterEach, describe, expect, it } from "vitest";
import { nodePostgresSql } from "../../src/adapters/sql/node-postgres.js";
import { pgliteSql } from "../../src/adapters/sql/pglite.js";
import type { Queryable, Sql } from "../../src/core/ports/sql.js";
import { migrate, QUAY_HEAD_REVISION } from "../../src/db/migrate.js";
import { spawnEntry } from "../support/process.js";
import { neonThroughGateways } from "../support/neon-node.js";
import { createTestDatabase, type TestDatabase } from "../support/services.js";

async function tables(sql: Queryable): Promise<string[]> {
  const { rows } = await sql.query<{ name: string }>(
    `SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename`,
  );
  return rows.map((r) => r.name);
}

/** Schemas other than PostgreSQL's own, and the tables of schema `pier`. */
async function pierState(sql: Queryable): Promise<{ schemas: string[]; pierTables: string[] }> {
  const schemas = await sql.query<{ name: string }>(
    `SELECT nspname AS name FROM pg_namespace
     WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' ORDER BY nspname`,
  );
  const pier = await sql.query<{ name: string }>(`SELECT tablename AS name FROM pg_tables WHERE schemaname = 'pier' ORDER BY tablename`);
  return { schemas: schemas.rows.map((r) => r.name), pierTables: pier.rows.map((r) => r.name) };
}

const PIER_STATE = { schemas: ["pier", "public"], pierTables: ["proxy_cache_option", "proxy_tag_pull", "repo_mirror_stats", "robot_token"] };

async function stamped(sql: Queryable): Promise<string[]> {
  const { rows } = await sql.query<{ version_num: string }>(`SELECT version_num FROM alembic_version`);
  return rows.map((r) => r.version_num);
}

describe("migrate on PostgreSQL", () => {
  const cleanups: (() => Promise<void>)[] = [];

  async function database(label: string): Promise<{ db: TestDatabase; sql: Sql }> {
    const db = await createTestDatabase(label);
    const sql = nodePostgresSql(db.url);
    cleanups.push(async () => {
      await sql.close();
      await db.drop();
    });
    return { db, sql };
  }

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it("exports Quay's head revision", () => {
    expect(QUAY_HEAD_REVISION).toBe("9fa37f66a9b6");
  });

  it("creates the schema in an empty database and stamps Quay's head", async () => {
    const { sql } = await database("mig-empty");
    expect(await migrate(sql)).toEqual({ applied: [QUAY_HEAD_REVISION] });
    expect(await stamped(sql)).toEqual([QUAY_HEAD_REVISION]);
    expect(await tables(sql)).toEqual(expect.arrayContaining(["alembic_version", "user", "repository", "manifest", "tag", "logentry3"]));
    expect(await pierState(sql)).toEqual(PIER_STATE);
  });

  it("applies nothing the second time and keeps the data", async () => {
    const { sql } = await database("mig-again");
    await migrate(sql);
    await sql.query(
      `INSERT INTO "user" (username, email, verified, organization, robot, invoice_email, last_invalid_login)
       VALUES ('alice', 'alice@example.com', true, false, false, false, now())`,
    );
    const kinds = await sql.query(`SELECT count(*)::int AS n FROM logentrykind`);
    expect(await migrate(sql)).toEqual({ applied: [] });
    expect((await sql.query(`SELECT username FROM "user"`)).rows).toEqual([{ username: "alice" }]);
    expect((await sql.query(`SELECT count(*)::int AS n FROM logentrykind`)).rows).toEqual(kinds.rows);
    expect(await stamped(sql)).toEqual([QUAY_HEAD_REVISION]);
    expect(await pierState(sql)).toEqual(PIER_STATE);
  });

  it("leaves Quay's tables and stamp of a database Quay manages as they are, adding only schema pier", async () => {
    const { sql } = await database("mig-quay");
    await sql.query(`CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)`);
    await sql.query(`INSERT INTO alembic_version VALUES ('3f8d7acdf7f9')`);
    await sql.query(`CREATE TABLE "user" (id SERIAL PRIMARY KEY, username VARCHAR(255) NOT NULL)`);
    await sql.query(`INSERT INTO "user" (username) VALUES ('quay-admin')`);
    await sql.query(`CREATE TABLE repository (id SERIAL PRIMARY KEY, name VARCHAR(255) NOT NULL)`);
    const columns = `SELECT table_name, column_name, data_type FROM information_schema.columns
                     WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`;
    const before = (await sql.query(columns)).rows;
    expect(await migrate(sql)).toEqual({ applied: [] });
    expect(await tables(sql)).toEqual(["alembic_version", "repository", "user"]);
    expect((await sql.query(columns)).rows).toEqual(before);
    expect((await sql.query(`SELECT id, username FROM "user"`)).rows).toEqual([{ id: 1, username: "quay-admin" }]);
    expect(await stamped(sql)).toEqual(["3f8d7acdf7f9"]);
    expect(await pierState(sql)).toEqual(PIER_STATE);
    // Pier's row follows Quay's: deleting the organization deletes it.
    await sql.query(`INSERT INTO pier.proxy_cache_option (organization_id, anonymous_pulls) VALUES (1, true)`);
    await sql.query(`DELETE FROM "user" WHERE id = 1`);
    expect((await sql.query(`SELECT count(*)::int AS n FROM pier.proxy_cache_option`)).rows).toEqual([{ n: 0 }]);
    expect(await migrate(sql)).toEqual({ applied: [] });
    expect(await pierState(sql)).toEqual(PIER_STATE);
  });

  it("rolls everything back when the database is not empty", async () => {
    const { sql } = await database("mig-busy");
    await sql.query(`CREATE TABLE tag (id SERIAL PRIMARY KEY)`);
    await expect(migrate(sql)).rejects.toThrow(/already exists/);
    expect(await tables(sql)).toEqual(["tag"]);
    expect((await pierState(sql)).schemas).toEqual(["public"]);
  });

  it("serialises two processes starting together: both succeed, the schema is created once", async () => {
    const { db, sql: setup } = await database("mig-race");
    // Even where transactions default to a snapshot older than the lock wait.
    await setup.query(`ALTER DATABASE "${db.name}" SET default_transaction_isolation = 'repeatable read'`);
    const [first, second] = [nodePostgresSql(db.url), nodePostgresSql(db.url)];
    try {
      const results = await Promise.all([migrate(first), migrate(second)]);
      expect(results.map((r) => r.applied).sort()).toEqual([[], [QUAY_HEAD_REVISION]]);
      expect(await stamped(first)).toEqual([QUAY_HEAD_REVISION]);
      expect((await first.query(`SELECT count(*)::int AS n FROM tagkind`)).rows).toEqual([{ n: 1 }]);
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  });

  it("npm run migrate applies, then reports up to date", async () => {
    const { db } = await database("mig-cli");
    const first = spawnEntry("scripts/migrate.ts", { DATABASE_URL: db.url });
    expect(await first.exited).toBe(0);
    expect(first.output()).toContain(`applied: ${QUAY_HEAD_REVISION}`);
    const second = spawnEntry("scripts/migrate.ts", { DATABASE_URL: db.url });
    expect(await second.exited).toBe(0);
    expect(second.output()).toContain("up to date");
  });

  it("npm run migrate without DATABASE_URL exits 1 with the reason", async () => {
    const run = spawnEntry("scripts/migrate.ts", { DATABASE_URL: "" });
    expect(await run.exited).toBe(1);
    expect(run.output()).toContain("DATABASE_URL is not set");
  });
});

describe("migrate on PGlite", () => {
  it("creates the schema once and is a no-op afterwards", async () => {
    const sql = await pgliteSql();
    try {
      expect(await migrate(sql)).toEqual({ applied: [QUAY_HEAD_REVISION] });
      expect(await migrate(sql)).toEqual({ applied: [] });
      expect(await stamped(sql)).toEqual([QUAY_HEAD_REVISION]);
      expect(await pierState(sql)).toEqual(PIER_STATE);
    } finally {
      await sql.close();
    }
  });
});

describe("migrate through Neon's driver (WebSocket transaction via the local gateways)", () => {
  it("creates the schema once and is a no-op afterwards", async () => {
    const db = await createTestDatabase("mig-neon");
    const { sql, close } = await neonThroughGateways(db.url);
    try {
      expect(await migrate(sql)).toEqual({ applied: [QUAY_HEAD_REVISION] });
      expect(await migrate(sql)).toEqual({ applied: [] });
      expect(await stamped(sql)).toEqual([QUAY_HEAD_REVISION]);
      expect(await pierState(sql)).toEqual(PIER_STATE);
    } finally {
      await close();
      await db.drop();
    }
  });
});
