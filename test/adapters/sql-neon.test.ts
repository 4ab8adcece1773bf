import { runSqlSuite } from "../suites/sql.js";
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
