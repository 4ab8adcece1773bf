/**
 * The SQL port's conformance suite: every adapter (node-postgres, Neon over HTTP and
 * WebSocket, PGlite) must return the same values and errors for the same statements.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SqlError, SqlState, type Sql } from "../../src/core/ports/sql.js";
import { expectUnavailableInTime, type FrozenDependency } from "./frozen-dependency.js";

export interface SqlSubject {
  sql: Sql;
  /** Present when the database is reached through a fault proxy. */
  frozen?: FrozenDependency;
  cleanup(): Promise<void>;
}

export interface SqlSuiteOptions {
  /** False where one backend serves every connection (PGlite): no concurrent visibility check. */
  concurrentConnections: boolean;
  /** True when the subject reaches the database through a fault proxy (`SqlSubject.frozen`). */
  faultInjection?: boolean;
}

export function runSqlSuite(name: string, factory: () => Promise<SqlSubject>, options: SqlSuiteOptions): void {
  describe(`Sql port: ${name}`, () => {
    let subject: SqlSubject;
    let sql: Sql;
    const table = `conformance_${Math.random().toString(36).slice(2, 8)}`;

    beforeAll(async () => {
      subject = await factory();
      sql = subject.sql;
      await sql.query(`CREATE TABLE ${table} (
        id SERIAL PRIMARY KEY, name VARCHAR(255) NOT NULL UNIQUE, small INTEGER, big BIGINT,
        ratio NUMERIC, flag BOOLEAN, body TEXT, doc JSONB, raw BYTEA,
        naive TIMESTAMP WITHOUT TIME ZONE, aware TIMESTAMPTZ)`);
    });

    afterAll(async () => {
      await sql?.query(`DROP TABLE IF EXISTS ${table}`);
      await subject?.cleanup();
    });

    it("returns each column type as the port defines it", async () => {
      const raw = new Uint8Array([0, 1, 2, 254, 255]);
      await sql.query(
        `INSERT INTO ${table} (name, small, big, ratio, flag, body, doc, raw, naive, aware)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [
          "types",
          42,
          "9007199254740993",
          "12.50",
          true,
          "héllo ☃",
          JSON.stringify({ a: [1, "x"] }),
          raw,
          "2026-01-02 03:04:05.678",
          "2026-01-02T03:04:05.678Z",
        ],
      );
      const { rows } = await sql.query(`SELECT * FROM ${table} WHERE name = $1`, ["types"]);
      const row = rows[0]!;
      expect(row.small).toBe(42);
      expect(row.big).toBe("9007199254740993");
      expect(row.ratio).toBe("12.50");
      expect(row.flag).toBe(true);
      expect(row.body).toBe("héllo ☃");
      expect(row.doc).toEqual({ a: [1, "x"] });
      expect(row.raw).toBeInstanceOf(Uint8Array);
      expect([...(row.raw as Uint8Array)]).toEqual([...raw]);
      expect(row.naive).toBeInstanceOf(Date);
      expect((row.naive as Date).toISOString()).toBe("2026-01-02T03:04:05.678Z");
      expect((row.aware as Date).toISOString()).toBe("2026-01-02T03:04:05.678Z");
    });

    it("writes Date parameters to timestamp columns as UTC", async () => {
      const instant = new Date("2026-03-04T05:06:07.089Z");
      await sql.query(`INSERT INTO ${table} (name, naive, aware) VALUES ($1, $2, $3)`, ["dates", instant, instant]);
      const { rows } = await sql.query(
        `SELECT naive, aware, to_char(naive, 'YYYY-MM-DD HH24:MI:SS.MS') AS text FROM ${table} WHERE name = $1`,
        ["dates"],
      );
      expect(rows[0]!.text).toBe("2026-03-04 05:06:07.089");
      expect((rows[0]!.naive as Date).getTime()).toBe(instant.getTime());
      expect((rows[0]!.aware as Date).getTime()).toBe(instant.getTime());
    });

    it("returns NULL as null and counts affected rows", async () => {
      const inserted = await sql.query(`INSERT INTO ${table} (name) VALUES ($1), ($2) RETURNING id`, ["n1", "n2"]);
      expect(inserted.rowCount).toBe(2);
      const { rows } = await sql.query(`SELECT small, big, doc, raw, naive FROM ${table} WHERE name = $1`, ["n1"]);
      expect(rows[0]).toEqual({ small: null, big: null, doc: null, raw: null, naive: null });
      const updated = await sql.query(`UPDATE ${table} SET small = 1 WHERE name IN ($1, $2)`, ["n1", "n2"]);
      expect(updated.rowCount).toBe(2);
      const deleted = await sql.query(`DELETE FROM ${table} WHERE name = $1`, ["n2"]);
      expect(deleted.rowCount).toBe(1);
      const none = await sql.query(`SELECT id FROM ${table} WHERE name = $1`, ["absent"]);
      expect(none.rows).toEqual([]);
    });

    it("raises SqlError with the SQLSTATE and constraint", async () => {
      await sql.query(`INSERT INTO ${table} (name) VALUES ($1)`, ["dup"]);
      const duplicate = await sql.query(`INSERT INTO ${table} (name) VALUES ($1)`, ["dup"]).catch((e: unknown) => e);
      expect(duplicate).toBeInstanceOf(SqlError);
      expect((duplicate as SqlError).code).toBe(SqlState.uniqueViolation);
      expect((duplicate as SqlError).constraint).toBe(`${table}_name_key`);
      const syntax = await sql.query("SELEC 1").catch((e: unknown) => e);
      expect(syntax).toBeInstanceOf(SqlError);
      expect((syntax as SqlError).code).toBe("42601");
    });

    it("commits a transaction and returns its result", async () => {
      const id = await sql.transaction(async (tx) => {
        const { rows } = await tx.query<{ id: number }>(`INSERT INTO ${table} (name) VALUES ($1) RETURNING id`, ["tx-commit"]);
        await tx.query(`UPDATE ${table} SET small = 7 WHERE id = $1`, [rows[0]!.id]);
        return rows[0]!.id;
      });
      const { rows } = await sql.query(`SELECT small FROM ${table} WHERE id = $1`, [id]);
      expect(rows).toEqual([{ small: 7 }]);
    });

    it("rolls a transaction back when its function throws", async () => {
      const failure = await sql
        .transaction(async (tx) => {
          await tx.query(`INSERT INTO ${table} (name) VALUES ($1)`, ["tx-rollback"]);
          throw new Error("boom");
        })
        .catch((e: unknown) => e);
      expect((failure as Error).message).toBe("boom");
      const { rows } = await sql.query(`SELECT id FROM ${table} WHERE name = $1`, ["tx-rollback"]);
      expect(rows).toEqual([]);
    });

    it("rolls back when a statement inside fails, and stays usable", async () => {
      const failure = await sql
        .transaction(async (tx) => {
          await tx.query(`INSERT INTO ${table} (name) VALUES ($1)`, ["tx-partial"]);
          await tx.query(`INSERT INTO ${table} (name) VALUES ($1)`, ["dup"]);
        })
        .catch((e: unknown) => e);
      expect((failure as SqlError).code).toBe(SqlState.uniqueViolation);
      const { rows } = await sql.query(`SELECT count(*)::int AS n FROM ${table} WHERE name = $1`, ["tx-partial"]);
      expect(rows).toEqual([{ n: 0 }]);
    });

    if (options.faultInjection)
      it("fails statements and transactions as unavailable in time while the database is frozen, then recovers", async () => {
        const frozen = subject.frozen!;
        await sql.query("SELECT 1");
        frozen.freeze();
        try {
          await Promise.all([
            expectUnavailableInTime(frozen.timeoutMs, () => sql.query("SELECT 'frozen'::text AS v")),
            expectUnavailableInTime(frozen.timeoutMs, () =>
              sql.transaction(async (tx) => {
                await tx.query(`INSERT INTO ${table} (name) VALUES ($1)`, ["frozen-tx"]);
              }),
            ),
          ]);
        } finally {
          frozen.pass();
        }
        // No connection is left holding a late reply: each statement gets its own answer.
        const values = Array.from({ length: 12 }, (_, i) => `after-${i}`);
        const answers = await Promise.all(values.map((v) => sql.query<{ v: string }>("SELECT $1::text AS v", [v])));
        expect(answers.map((a) => a.rows[0]!.v)).toEqual(values);
        expect(
          await sql.transaction((tx) => tx.query(`SELECT count(*)::int AS n FROM ${table} WHERE name = $1`, ["frozen-tx"])),
        ).toMatchObject({
          rows: [{ n: 0 }],
        });
      });

    if (!options.concurrentConnections) return;
    it("keeps uncommitted writes invisible to other connections", async () => {
      let seenOutside: unknown[] | undefined;
      await sql.transaction(async (tx) => {
        await tx.query(`INSERT INTO ${table} (name) VALUES ($1)`, ["tx-isolated"]);
        seenOutside = (await sql.query(`SELECT id FROM ${table} WHERE name = $1`, ["tx-isolated"])).rows;
      });
      expect(seenOutside).toEqual([]);
      const after = await sql.query(`SELECT id FROM ${table} WHERE name = $1`, ["tx-isolated"]);
      expect(after.rows).toHaveLength(1);
    });
  });
}
