/** Neon's driver under Node, through the local HTTP and WebSocket gateways, for one database. */
import WebSocket from "ws";
import { startNeonHttpGateway } from "../../scripts/gateways/neon-http.js";
import { startNeonWsProxy } from "../../scripts/gateways/neon-ws.js";
import { neonSql } from "../../src/adapters/sql/neon.js";
import type { DependencyTimeouts } from "../../src/core/config.js";
import type { Sql } from "../../src/core/ports/sql.js";

export async function neonThroughGateways(
  databaseUrl: string,
  timeouts?: Pick<DependencyTimeouts, "sqlMs" | "sqlPoolWaitMs">,
): Promise<{ sql: Sql; close(): Promise<void> }> {
  const [http, ws] = await Promise.all([startNeonHttpGateway({}), startNeonWsProxy({})]);
  const sql = neonSql({
    connectionString: databaseUrl,
    fetchEndpoint: http.url,
    wsProxy: `127.0.0.1:${ws.port}/v1`,
    // Node 20 has no global WebSocket; the driver takes any constructor of that shape.
    webSocketConstructor: WebSocket as unknown as typeof globalThis.WebSocket,
    timeouts,
  });
  return {
    sql,
    async close() {
      await sql.close();
      await Promise.all([http.close(), ws.close()]);
    },
  };
}
