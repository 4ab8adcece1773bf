import { pgliteSql } from "../../src/adapters/sql/pglite.js";
import { runSqlSuite } from "../suites/sql.js";

runSqlSuite(
  "pglite (in memory)",
  async () => {
    const sql = await pgliteSql();
    return { sql, cleanup: () => sql.close() };
  },
  { concurrentConnections: false },
);
