/**
 * The local Neon SQL-over-HTTP gateway, driven by the real `neon()` client where the
 * driver's view is the point and by raw fetch where the wire format is.
 */
import { neon, neonConfig, NeonDbError, type NeonQueryFunction, type NeonQueryFunctionInTransaction } from "@neondatabase/serverless";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNeonHttpGateway, type NeonHttpGateway } from "../../scripts/gateways/neon-http.js";
import { createTestDatabase, type TestDatabase } from "../support/services.js";

describe("Neon HTTP gateway", () => {
  let gateway: NeonHttpGateway;
  let db: TestDatabase;
  let sql: NeonQueryFunction<false, false>;

  /** A request exactly as the driver builds it, overridable header by header. */
  function post(body: unknown, headers: Record<string, string> = {}): Promise<Response> {
    return fetch(gateway.url, {
      method: "POST",
      headers: { "Neon-Connection-String": db.url, "Neon-Raw-Text-Output": "true", "Neon-Array-Mode": "true", ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
  }

  const names = async () => (await sql.query("SELECT name FROM items ORDER BY name")).map((row) => row.name);

  beforeAll(async () => {
    db = await createTestDatabase("neonhttp");
    gateway = await startNeonHttpGateway({});
    neonConfig.fetchEndpoint = gateway.url;
    sql = neon(db.url);
    await sql.query("CREATE TABLE items (id SERIAL PRIMARY KEY, name TEXT NOT NULL UNIQUE)");
  });

  afterAll(async () => {
    await gateway?.close();
    await db?.drop();
  });

  describe("through the driver", () => {
    it("round-trips every common type, NULL included", async () => {
      const aware = new Date("2026-01-02T03:04:05.678Z");
      const [row] = await sql.query(
        `SELECT $1::int8 AS big, $2::numeric AS ratio, $3::int4 AS small, $4::float8 AS real, $5::bool AS flag,
                $6::json AS doc, $7::jsonb AS docb, $8::bytea AS raw, $9::timestamp AS naive, $10::timestamptz AS aware,
                $11::int4[] AS ints, $12::text[] AS texts, $13::int AS nothing, $14::text AS text`,
        [
          "9007199254740993",
          "12.50",
          42,
          1.5,
          true,
          '{"a":[1,"x"]}',
          { b: null },
          Buffer.from([0, 1, 254, 255]),
          "2026-01-02 03:04:05.678",
          aware,
          [1, 2, 3],
          ["a", null, 'q"uote'],
          null,
          "héllo ☃ \u{1F600}",
        ],
      );
      expect(row).toEqual({
        big: "9007199254740993",
        ratio: "12.50",
        small: 42,
        real: 1.5,
        flag: true,
        doc: { a: [1, "x"] },
        docb: { b: null },
        raw: Buffer.from([0, 1, 254, 255]),
        // The driver reads a timestamp without zone as local time.
        naive: new Date(2026, 0, 2, 3, 4, 5, 678),
        aware,
        ints: [1, 2, 3],
        texts: ["a", null, 'q"uote'],
        nothing: null,
        text: "héllo ☃ \u{1F600}",
      });
    });

    it("returns full results with command and row count", async () => {
      const inserted = await sql.query("INSERT INTO items (name) VALUES ($1), ($2) RETURNING id", ["r1", "r2"], { fullResults: true });
      expect(inserted.command).toBe("INSERT");
      expect(inserted.rowCount).toBe(2);
      const deleted = await sql.query("DELETE FROM items WHERE name IN ($1, $2)", ["r1", "r2"], { fullResults: true });
      expect(deleted).toMatchObject({ command: "DELETE", rowCount: 2, rows: [] });
    });

    it("raises NeonDbError with the Postgres fields", async () => {
      await sql.query("INSERT INTO items (name) VALUES ($1)", ["dup"]);
      const duplicate = await sql.query("INSERT INTO items (name) VALUES ($1)", ["dup"]).catch((e: unknown) => e);
      expect(duplicate).toBeInstanceOf(NeonDbError);
      expect(duplicate).toMatchObject({
        code: "23505",
        severity: "ERROR",
        constraint: "items_name_key",
        table: "items",
        schema: "public",
        detail: "Key (name)=(dup) already exists.",
      });
      const syntax = await sql.query("SELECT FROM WHERE").catch((e: unknown) => e);
      expect(syntax).toMatchObject({ code: "42601", position: "13", message: 'syntax error at or near "WHERE"' });
    });

    it("runs one statement per query, as Neon does", async () => {
      const error = await sql.query("SELECT 1; SELECT 2").catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "42601", message: "cannot insert multiple commands into a prepared statement" });
    });

    it("commits a batch as one transaction", async () => {
      const results = await sql.transaction((tx) => [
        tx`INSERT INTO items (name) VALUES (${"b1"})`,
        tx`INSERT INTO items (name) VALUES (${"b2"}) RETURNING name`,
        tx`SELECT count(*)::int AS n FROM items WHERE name LIKE 'b%'`,
      ]);
      expect(results).toEqual([[], [{ name: "b2" }], [{ n: 2 }]]);
      expect(await names()).toEqual(expect.arrayContaining(["b1", "b2"]));
    });

    it("rolls a batch back when any statement fails", async () => {
      const error = await sql
        .transaction([sql`INSERT INTO items (name) VALUES (${"rb1"})`, sql`INSERT INTO items (name) VALUES (${"dup"})`])
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "23505", constraint: "items_name_key" });
      expect(await names()).not.toContain("rb1");
    });

    it("applies the batch's isolation level, read-only and deferrable settings", async () => {
      const settings = (tx: NeonQueryFunctionInTransaction<false, false>) => [
        tx`SELECT current_setting('transaction_isolation') AS v`,
        tx`SELECT current_setting('transaction_read_only') AS v`,
        tx`SELECT current_setting('transaction_deferrable') AS v`,
      ];
      const chosen = await sql.transaction(settings, { isolationLevel: "Serializable", readOnly: true, deferrable: true });
      expect(chosen.map((rows) => rows[0]!.v)).toEqual(["serializable", "on", "on"]);
      const repeatable = await sql.transaction(settings, { isolationLevel: "RepeatableRead", readOnly: false });
      expect(repeatable.map((rows) => rows[0]!.v)).toEqual(["repeatable read", "off", "off"]);
      const defaults = await sql.transaction(settings);
      expect(defaults.map((rows) => rows[0]!.v)).toEqual(["read committed", "off", "off"]);
    });

    it("refuses writes in a read-only batch", async () => {
      const error = await sql.transaction([sql`INSERT INTO items (name) VALUES (${"ro"})`], { readOnly: true }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "25006" });
      expect(await names()).not.toContain("ro");
    });

    it("refuses a database that is not on this machine", async () => {
      const remote = neon("postgres://postgres@10.1.2.3:5432/postgres");
      const error = await remote.query("SELECT 1").catch((e: unknown) => e);
      expect((error as Error).message).toContain("HTTP status 403");
      expect((error as Error).message).toContain("only connects to loopback databases, not 10.1.2.3");
    });
  });

  describe("on the wire", () => {
    it("replies with Postgres text values and type OIDs", async () => {
      const response = await post({
        query: `SELECT 1::int8 AS a, true AS b, '\\x00ff'::bytea AS c, NULL::text AS d, ARRAY[1,2] AS e, '{"k":1}'::jsonb AS f,
                '2026-01-02 03:04:05.678+00'::timestamptz AS g`,
        params: [],
      });
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe("application/json");
      const body = await response.json();
      expect(body).toMatchObject({
        command: "SELECT",
        rowCount: 1,
        rowAsArray: true,
        rows: [["1", "t", "\\x00ff", null, "{1,2}", '{"k": 1}', "2026-01-02 03:04:05.678+00"]],
      });
      expect(body.fields.map((f: { name: string; dataTypeID: number }) => [f.name, f.dataTypeID])).toEqual([
        ["a", 20],
        ["b", 16],
        ["c", 17],
        ["d", 25],
        ["e", 1007],
        ["f", 3802],
        ["g", 1184],
      ]);
      expect(body.fields[0]).toMatchObject({ tableID: 0, columnID: 0, dataTypeSize: 8, dataTypeModifier: -1, format: "text" });
    });

    it("takes parameters as Postgres text, bytea as \\x hex, and null", async () => {
      const response = await post({
        query: "SELECT $1::bytea AS b, length($1::bytea) AS n, $2::text AS t, $3::int + 1 AS i",
        params: ["\\x0102ff", null, "7"],
      });
      expect((await response.json()).rows).toEqual([["\\x0102ff", "3", null, "8"]]);
    });

    it("answers objects when array mode is off", async () => {
      const response = await post({ query: "SELECT 1 AS one, 'x' AS two" }, { "Neon-Array-Mode": "false" });
      expect(await response.json()).toMatchObject({ rows: [{ one: "1", two: "x" }], rowAsArray: false });
    });

    it("answers a batch with {results} and a failing batch with HTTP 400", async () => {
      const ok = await post({
        queries: [
          { query: "SELECT 1 AS a", params: [] },
          { query: "SELECT $1::text AS b", params: ["x"] },
        ],
      });
      const { results } = await ok.json();
      expect(results.map((r: { rows: unknown }) => r.rows)).toEqual([[["1"]], [["x"]]]);
      const failing = await post({
        queries: [
          { query: "SELECT 1", params: [] },
          { query: "SELECT 1/0", params: [] },
        ],
      });
      expect(failing.status).toBe(400);
      expect(await failing.json()).toMatchObject({ message: "division by zero", code: "22012", severity: "ERROR" });
      const badLevel = await post({ queries: [{ query: "SELECT 1", params: [] }] }, { "Neon-Batch-Isolation-Level": "Chaos" });
      expect(badLevel.status).toBe(400);
    });

    it("reports a Postgres error as HTTP 400 with its fields", async () => {
      const response = await post({ query: "INSERT INTO items (name) VALUES ($1)", params: ["dup"] });
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ code: "23505", constraint: "items_name_key", table: "items", schema: "public" });
    });

    it("refuses non-loopback connection strings and malformed requests", async () => {
      const remote = await post({ query: "SELECT 1" }, { "Neon-Connection-String": "postgres://u:p@db.example.com:5432/x" });
      expect(remote.status).toBe(403);
      expect((await remote.json()).message).toContain("loopback");
      const sneaky = await post({ query: "SELECT 1" }, { "Neon-Connection-String": "postgres://u@127.0.0.1.example.com/x" });
      expect(sneaky.status).toBe(403);
      const missing = await fetch(gateway.url, { method: "POST", headers: { "Neon-Raw-Text-Output": "true" }, body: "{}" });
      expect(missing.status).toBe(400);
      expect((await post("{not json")).status).toBe(400);
      expect((await post({ query: 42 })).status).toBe(400);
      expect((await post({ query: "SELECT 1" }, { "Neon-Raw-Text-Output": "false" })).status).toBe(400);
      expect((await fetch(gateway.url)).status).toBe(405);
      expect((await fetch(gateway.url.replace("/sql", "/other"), { method: "POST" })).status).toBe(404);
    });

    it("caps the request body", async () => {
      const response = await post({ query: "SELECT $1", params: ["x".repeat(10 * 1024 * 1024)] });
      expect(response.status).toBe(413);
    });
  });
});
