import { describe, expect, it } from "vitest";
import { nodePostgresSql } from "../../src/adapters/sql/node-postgres.js";
import { expectUnavailableInTime } from "../suites/frozen-dependency.js";
import { runSqlSuite } from "../suites/sql.js";
import { startFaultProxy } from "../support/fault-proxy.js";
import { createTestDatabase } from "../support/services.js";

runSqlSuite(
  "node-postgres",
  async () => {
    const db = await createTestDatabase("pg");
    const sql = nodePostgresSql(db.url);
    return {
      sql,
      async cleanup() {
        await sql.close();
        await db.drop();
      },
    };
  },
  { concurrentConnections: true },
);

runSqlSuite(
  "node-postgres behind a fault proxy, 1 s bounds",
  async () => {
    const db = await createTestDatabase("pgfrozen");
    const url = new URL(db.url);
    const proxy = await startFaultProxy({ host: url.hostname, port: Number(url.port || 5432) });
    const sql = nodePostgresSql(proxy.urlFor(db.url), { max: 4, timeouts: { sqlMs: 1_000, sqlPoolWaitMs: 1_000 } });
    return {
      sql,
      frozen: { freeze: () => proxy.freeze(), pass: () => proxy.pass(), timeoutMs: 1_000 },
      async cleanup() {
        await sql.close();
        await proxy.close();
        await db.drop();
      },
    };
  },
  { concurrentConnections: true, faultInjection: true },
);

describe("node-postgres pool checkout", () => {
  it("fails as unavailable after the pool wait when every connection is busy, and serves again once one is free", async () => {
    const db = await createTestDatabase("pgpool");
    const sql = nodePostgresSql(db.url, { max: 1, timeouts: { sqlMs: 5_000, sqlPoolWaitMs: 500 } });
    try {
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let started!: () => void;
      const holding = new Promise<void>((resolve) => (started = resolve));
      const transaction = sql.transaction(async (tx) => {
        await tx.query("SELECT 1");
        started();
        await held;
      });
      await holding;
      await expectUnavailableInTime(500, () => sql.query("SELECT 1"));
      release();
      await transaction;
      expect((await sql.query<{ n: number }>("SELECT 2 AS n")).rows).toEqual([{ n: 2 }]);
    } finally {
      await sql.close();
      await db.drop();
    }
  });
});
