/**
 * `npm run migrate`: creates or completes Pier's (Quay's) schema in DATABASE_URL.
 * Idempotent; a database Quay manages at another revision is left as it is.
 */
import { nodePostgresSql } from "../src/adapters/sql/node-postgres.js";
import { migrate } from "../src/db/migrate.js";

const url = process.env.DATABASE_URL?.trim();
if (!url) {
  console.error("DATABASE_URL is not set. Example: DATABASE_URL=postgres://user:password@host:5432/quay npm run migrate");
  process.exit(1);
}

const sql = nodePostgresSql(url, { max: 1 });
let exitCode = 0;
try {
  const { applied } = await migrate(sql);
  console.log(applied.length > 0 ? `applied: ${applied.join(", ")}` : "up to date");
} catch (error) {
  console.error("migration failed:", error instanceof Error ? error.message : error);
  exitCode = 1;
} finally {
  await sql.close();
}
process.exit(exitCode);
