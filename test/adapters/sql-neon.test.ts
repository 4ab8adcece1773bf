import WebSocket from "ws";
import { startNeonHttpGateway } from "../../scripts/gateways/neon-http.js";
import { startNeonWsProxy } from "../../scripts/gateways/neon-ws.js";
import { neonSql } from "../../src/adapters/sql/neon.js";
import { runSqlSuite } from "../suites/sql.js";
import { createTestDatabase } from "../support/services.js";

runSqlSuite(
  "neon (HTTP queries, WebSocket transactions) through the local gateways",
  async () => {
    const db = await createTestDatabase("neon");
    const [http, ws] = await Promise.all([startNeonHttpGateway({}), startNeonWsProxy({})]);
    const sql = neonSql({
      connectionString: db.url,
      fetchEndpoint: http.url,
      wsProxy: `127.0.0.1:${ws.port}/v1`,
      // Node 20 has no global WebSocket; the driver takes any constructor of that shape.
      webSocketConstructor: WebSocket as unknown as typeof globalThis.WebSocket,
    });
    return {
      sql,
      async cleanup() {
        await sql.close();
        await Promise.all([http.close(), ws.close()]);
        await db.drop();
      },
    };
  },
  { concurrentConnections: true },
);
