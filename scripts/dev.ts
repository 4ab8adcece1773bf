/**
 * `npm run dev`: the edge Worker under `wrangler dev` over HTTPS, the Node origin that
 * takes upload bytes, and the gateways to the local PostgreSQL (database `pier_dev`,
 * created and migrated here), Redis and a verifying S3 store — with a user to log in
 * as. Any registry client then works against the edge in one step. Files the stack
 * keeps between runs (the user's password, the edge's signing key, blobs) live under
 * `<PIER_DATA_DIR>/dev`. Extra arguments go to wrangler.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import pg from "pg";
import { nodePostgresSql } from "../src/adapters/sql/node-postgres.js";
import { ensureUser } from "../src/core/accounts.js";
import { generatePassword } from "../src/core/auth/passwords.js";
import { createConfiguredSigningKey } from "../src/core/auth/service-keys.js";
import { readInteger, readString } from "../src/core/config.js";
import { systemClock } from "../src/core/ports/clock.js";
import type { Queryable } from "../src/core/ports/sql.js";
import { migrate } from "../src/db/migrate.js";
import { startDevGatewayStack } from "./gateways/stack.js";

const env = process.env;
const adminUrl = env.PIER_DEV_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const databaseUrl = env.DATABASE_URL ?? adminUrl.replace(/\/[^/]*$/, "/pier_dev");
const redisUrl = env.REDIS_URL ?? "redis://127.0.0.1:6379";
const devDir = join(resolve(readString(env, "PIER_DATA_DIR") ?? "data"), "dev");
const edgePort = readInteger(env, "PIER_DEV_EDGE_PORT", 8787);
const originPort = readInteger(env, "PIER_DEV_ORIGIN_PORT", 8788);
/** The gateways listen on this port and the three after it (0: ephemeral ports). */
const gatewayPort = readInteger(env, "PIER_DEV_GATEWAY_PORT", 4444);
const username = readString(env, "PIER_DEV_USER") ?? "dev";
const edgeHost = `127.0.0.1:${edgePort}`;
const originUrl = `http://127.0.0.1:${originPort}`;

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
}

/** A value generated once and kept (mode 0600) under the dev directory. */
async function kept(file: string, generate: () => Promise<string> | string): Promise<string> {
  const path = join(devDir, file);
  try {
    return (await readFile(path, "utf8")).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const value = await generate();
  await writeFile(path, value + "\n", { mode: 0o600 });
  return value;
}

/** The edge's signing key, registered once; a new one if its row was removed. */
async function edgeSigningKey(sql: Queryable): Promise<string> {
  const create = async () => JSON.stringify(await createConfiguredSigningKey(sql, systemClock, "pier-dev-edge"));
  const jwk = await kept("edge-signing-key.json", create);
  const { rows } = await sql.query(`SELECT 1 FROM servicekey WHERE kid = $1 AND approval_id IS NOT NULL`, [JSON.parse(jwk).kid]);
  if (rows.length > 0) return jwk;
  const fresh = await create();
  await writeFile(join(devDir, "edge-signing-key.json"), fresh + "\n", { mode: 0o600 });
  return fresh;
}

await mkdir(devDir, { recursive: true });
await ensureDatabase();
const sql = nodePostgresSql(databaseUrl);
let password: string;
let signingKey: string;
try {
  const { applied } = await migrate(sql);
  console.log(`database ${new URL(databaseUrl).pathname.slice(1)}: ${applied.length ? `applied ${applied.join(", ")}` : "up to date"}`);
  password = readString(env, "PIER_DEV_PASSWORD") ?? (await kept("password", generatePassword));
  await ensureUser(sql, systemClock, { username, email: `${username}@localhost`, password, removedTagExpirationSeconds: 1_209_600 });
  signingKey = await edgeSigningKey(sql);
} finally {
  await sql.close();
}
const databaseSecretKey = await kept("database-secret-key", () => `pier-${randomBytes(48).toString("base64url")}`);

const stack = await startDevGatewayStack(databaseUrl, redisUrl, { s3Root: join(devDir, "s3"), basePort: gatewayPort });
const { bindings } = stack;

// Settings both runtimes share: the edge's host is the token audience and public host.
const shared = { PIER_SERVER_HOSTNAME: edgeHost, PIER_URL_SCHEME: "https", PIER_ORIGIN_URL: originUrl, PIER_SUPER_USERS: username };
const children: ChildProcess[] = [];

// Started as plain Node processes (not through npx), so signals reach them directly.
const origin = spawn(process.execPath, ["--import", "tsx", "workers/origin.ts"], {
  stdio: ["ignore", "inherit", "inherit"],
  env: {
    ...env,
    ...shared,
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    S3_ENDPOINT: bindings.S3_ENDPOINT,
    S3_BUCKET: bindings.S3_BUCKET,
    S3_REGION: bindings.S3_REGION,
    S3_ACCESS_KEY_ID: bindings.S3_ACCESS_KEY_ID,
    S3_SECRET_ACCESS_KEY: bindings.S3_SECRET_ACCESS_KEY,
    PIER_DATABASE_SECRET_KEY: databaseSecretKey,
    PIER_HOST: "127.0.0.1",
    PORT: String(originPort),
    PIER_MIGRATE_ON_START: "false",
    // One process is plenty for a developer's pushes; PIER_WORKERS still overrides it.
    PIER_WORKERS: env.PIER_WORKERS ?? "1",
  },
});
children.push(origin);

// Secrets reach wrangler in a file, not on its command line.
const secretsFile = join(devDir, "edge.env");
await writeFile(secretsFile, `PIER_SIGNING_KEY='${signingKey}'\nPIER_DATABASE_SECRET_KEY='${databaseSecretKey}'\n`, { mode: 0o600 });
const vars = Object.entries({ ...bindings, ...shared }).flatMap(([name, value]) => ["--var", `${name}:${value}`]);
const wrangler = spawn(
  process.execPath,
  [
    "node_modules/wrangler/bin/wrangler.js",
    "dev",
    "--test-scheduled",
    "--log-level",
    "warn",
    "--local-protocol",
    "https",
    "--ip",
    "127.0.0.1",
    "--port",
    String(edgePort),
    "--env-file",
    secretsFile,
    ...vars,
    ...process.argv.slice(2),
  ],
  {
    stdio: ["ignore", "inherit", "inherit"],
    env: {
      ...env,
      WRANGLER_SEND_METRICS: "false",
      CLOUDFLARE_CF_FETCH_ENABLED: "false",
      WRANGLER_HIDE_BANNER: "true",
      WRANGLER_SEND_ERROR_REPORTS: "false",
    },
  },
);
children.push(wrangler);

console.log(
  [
    `Pier dev stack: edge https://${edgeHost} (self-signed certificate), origin ${originUrl}`,
    `Log in with: skopeo login --tls-verify=false -u ${username} -p ${password} ${edgeHost}`,
    `         or: podman login --tls-verify=false -u ${username} -p ${password} ${edgeHost}`,
  ].join("\n"),
);

let stopping = false;
async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((done) => {
          if (child.exitCode !== null || child.signalCode !== null) return done();
          child.once("exit", () => done());
          child.kill("SIGINT");
        }),
    ),
  );
  await stack.close();
  process.exit(code);
}
// Ctrl-C reaches the children too; whichever ends first stops the rest.
process.once("SIGINT", () => void stop(0));
process.once("SIGTERM", () => void stop(0));
for (const child of children) child.once("exit", (code) => void stop(code ?? 0));
