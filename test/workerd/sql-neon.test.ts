import { env } from "cloudflare:workers";
import { neonSql } from "../../src/adapters/sql/neon.js";
import { runSqlSuite } from "../suites/sql.js";

runSqlSuite(
  "neon in workerd (HTTP queries, WebSocket transactions)",
  async () => ({
    sql: neonSql({ connectionString: env.DATABASE_URL, fetchEndpoint: env.NEON_FETCH_ENDPOINT, wsProxy: env.NEON_WS_PROXY }),
    cleanup: async () => {},
  }),
  { concurrentConnections: true },
);
