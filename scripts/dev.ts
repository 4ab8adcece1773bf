/**
 * `npm run dev`: the edge Worker under `wrangler dev`, against the local PostgreSQL
 * (database `pier_dev`, created and migrated here) and Redis through the gateways.
 * Extra arguments go to wrangler (e.g. `npm run dev -- --local-protocol https`).
 */
import { spawn } from "node:child_process";
import pg from "pg";
import { nodePostgresSql } from "../src/adapters/sql/node-postgres.js";
import { migrate } from "../src/db/migrate.js";
import { startDevGatewayStack } from "./gateways/stack.js";

const adminUrl = process.env.PIER_DEV_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const databaseUrl = process.env.DATABASE_URL ?? adminUrl.replace(/\/[^/]*$/, "/pier_dev");
const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

async function ensureDatabase(): Promise<void> {
  const name = new URL(databaseUrl).pathname.slice(1);
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const exists = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
  } finally {
    await admin.end();
  }
  const sql = nodePostgresSql(databaseUrl);
  const { applied } = await migrate(sql);
  await sql.close();
  console.log(`database ${name}: ${applied.length ? `applied ${applied.join(", ")}` : "up to date"}`);
}

await ensureDatabase();
const stack = await startDevGatewayStack(databaseUrl, redisUrl);

const vars = Object.entries(stack.bindings).flatMap(([name, value]) => ["--var", `${name}:${value}`]);
const wrangler = spawn("npx", ["wrangler", "dev", "--test-scheduled", "--log-level", "warn", ...vars, ...process.argv.slice(2)], {
  stdio: "inherit",
  env: {
    ...process.env,
    WRANGLER_SEND_METRICS: "false",
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
    WRANGLER_HIDE_BANNER: "true",
    WRANGLER_SEND_ERROR_REPORTS: "false",
  },
});

// Ctrl-C reaches wrangler too; the gateways close once it has exited.
process.once("SIGTERM", () => wrangler.kill("SIGINT"));
process.once("SIGINT", () => {});
wrangler.once("exit", async (code) => {
  await stack.close();
  process.exit(code ?? 0);
});
