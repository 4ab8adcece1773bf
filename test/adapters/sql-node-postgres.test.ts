import { nodePostgresSql } from "../../src/adapters/sql/node-postgres.js";
import { runSqlSuite } from "../suites/sql.js";
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
