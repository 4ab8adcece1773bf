import { nodePostgresSql } from "../../src/adapters/sql/node-postgres.js";
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
