/**
 * Edge SQL driver: Neon's serverless driver. One-shot queries go over HTTP (one
 * fetch, no connection set-up); transactions open a WebSocket client for their own
 * duration, because workerd forbids sharing a socket between requests.
 */
import { Client, neon, neonConfig, types as pgTypes, type FullQueryResults } from "@neondatabase/serverless";
import { DEFAULT_TIMEOUTS, type DependencyTimeouts } from "../../core/config.js";
import { isDatabaseUnavailable, type Queryable, type Sql } from "../../core/ports/sql.js";
import { pgBounds, queryPg, toSqlError } from "./pg-pool.js";

export interface NeonSqlOptions {
  connectionString: string;
  /** Local development: the SQL-over-HTTP endpoint (scripts/gateways/neon-http.ts). */
  fetchEndpoint?: string;
  /** Local development: `host:port/v1` of the WebSocket proxy (scripts/gateways/neon-ws.ts). */
  wsProxy?: string;
  /** Node has no global WebSocket before 22; pass the `ws` constructor there. */
  webSocketConstructor?: typeof WebSocket;
  timeouts?: Pick<DependencyTimeouts, "sqlMs" | "sqlPoolWaitMs">;
}

const TIMESTAMP_WITHOUT_TIME_ZONE = 1114;
const types = {
  getTypeParser(oid: number, format?: "text" | "binary") {
    if (oid === TIMESTAMP_WITHOUT_TIME_ZONE) return (value: string) => new Date(value.replace(" ", "T") + "Z");
    return pgTypes.getTypeParser(oid, format);
  },
};

export function neonSql(options: NeonSqlOptions): Sql {
  // fetchEndpoint is global-only in the driver; every Pier isolate talks to one database.
  if (options.fetchEndpoint) neonConfig.fetchEndpoint = options.fetchEndpoint;
  const http = neon(options.connectionString, { fullResults: true });
  const bounds = pgBounds(options.timeouts ?? DEFAULT_TIMEOUTS);

  function newClient(): Client {
    const client = new Client({
      connectionString: options.connectionString,
      types,
      ...bounds,
    });
    if (options.wsProxy) {
      const proxy = options.wsProxy;
      client.neonConfig.wsProxy = (host, port) => `${proxy}?address=${host}:${port}`;
      client.neonConfig.useSecureWebSocket = false;
      client.neonConfig.pipelineConnect = false;
      client.neonConfig.pipelineTLS = false;
    }
    if (options.webSocketConstructor) client.neonConfig.webSocketConstructor = options.webSocketConstructor;
    // Without a listener a dropped socket is an unhandled error event.
    client.on("error", () => {});
    return client;
  }

  return {
    async query<R extends object>(text: string, params: readonly unknown[] = []) {
      try {
        const fetchOptions = { signal: AbortSignal.timeout(bounds.query_timeout) };
        const result = (await http.query(text, params as unknown[], { types, fetchOptions })) as FullQueryResults<false>;
        return { rows: result.rows as R[], rowCount: result.rowCount ?? result.rows.length };
      } catch (error) {
        throw toSqlError(error);
      }
    },
    async transaction(fn) {
      const client = newClient();
      await client.connect().catch((error: unknown) => Promise.reject(toSqlError(error)));
      const tx: Queryable = { query: (text, params) => queryPg(client, text, params) };
      try {
        await tx.query("BEGIN");
        const result = await fn(tx);
        await tx.query("COMMIT");
        await client.end().catch(() => {});
        return result;
      } catch (error) {
        // A timed-out or broken connection is closed without waiting on it again;
        // the server rolls back when it goes away.
        if (isDatabaseUnavailable(error)) void client.end().catch(() => {});
        else {
          await client.query("ROLLBACK").catch(() => {});
          await client.end().catch(() => {});
        }
        // Statements already threw SqlErrors; anything else is the caller's own error.
        throw error;
      }
    },
    async close() {},
  };
}
