import { runSqlSuite } from "../suites/sql.js";
import { startFaultProxy } from "../support/fault-proxy.js";
import { neonThroughGateways } from "../support/neon-node.js";
import { createTestDatabase } from "../support/services.js";

runSqlSuite(
  "neon (HTTP queries, WebSocket transactions) through the local gateways",
  async () => {
    const db = await createTestDatabase("neon");
    const neon = await neonThroughGateways(db.url);
    return {
      sql: neon.sql,
      async cleanup() {
        await neon.close();
        await db.drop();
      },
    };
  },
  { concurrentConnections: true },
);

runSqlSuite(
  "neon through the local gateways, the database behind a fault proxy, 1 s bounds",
  async () => {
    const db = await createTestDatabase("neonfrozen");
    const url = new URL(db.url);
    const proxy = await startFaultProxy({ host: url.hostname, port: Number(url.port || 5432) });
    const neon = await neonThroughGateways(proxy.urlFor(db.url), { sqlMs: 1_000, sqlPoolWaitMs: 1_000 });
    return {
      sql: neon.sql,
      frozen: { freeze: () => proxy.freeze(), pass: () => proxy.pass(), timeoutMs: 1_000 },
      async cleanup() {
        await neon.close();
        await proxy.close();
        await db.drop();
      },
    };
  },
  { concurrentConnections: true, faultInjection: true },
);
