/**
 * The real services the suite runs against: PostgreSQL and Redis on this machine.
 * Started when installed but stopped; when absent the run fails at once with the
 * exact install line.
 */
import { execFileSync, execSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import net from "node:net";
import pg from "pg";

export const POSTGRES_ADMIN_URL = process.env.PIER_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
export const REDIS_URL = process.env.PIER_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

function portOpen(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

async function waitForPort(host: string, port: number, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await portOpen(host, port)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} did not start listening on ${host}:${port} within ${timeoutMs} ms`);
}

function has(command: string): boolean {
  try {
    execSync(`command -v ${command}`, { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

async function ensurePostgres(): Promise<void> {
  const url = new URL(POSTGRES_ADMIN_URL);
  const port = Number(url.port || 5432);
  if (await portOpen(url.hostname, port)) return;
  if (!has("pg_ctlcluster") || !existsSync("/etc/postgresql")) {
    throw new Error("PostgreSQL is not installed. Install it with: apt-get install -y postgresql");
  }
  for (const version of readdirSync("/etc/postgresql")) {
    execFileSync("pg_ctlcluster", ["--skip-systemctl-redirect", version, "main", "start"], { stdio: "inherit" });
  }
  await waitForPort(url.hostname, port, "PostgreSQL");
}

async function ensureRedis(): Promise<void> {
  const url = new URL(REDIS_URL);
  const port = Number(url.port || 6379);
  if (await portOpen(url.hostname, port)) return;
  if (!has("redis-server")) {
    throw new Error("Redis is not installed. Install it with: apt-get install -y redis-server");
  }
  execFileSync("redis-server", ["--daemonize", "yes", "--bind", "127.0.0.1", "--port", String(port), "--save", "", "--appendonly", "no"], {
    stdio: "inherit",
  });
  await waitForPort(url.hostname, port, "Redis");
}

/** Real clients and peers the end-to-end tests drive (installed by .ci/run). */
const CLIENTS: Record<string, string> = { skopeo: "skopeo", podman: "podman", "docker-registry": "docker-registry" };

function ensureClients(): void {
  const missing = Object.keys(CLIENTS).filter((command) => !has(command));
  if (missing.length > 0) {
    throw new Error(`Missing ${missing.join(", ")}. Install with: apt-get install -y ${missing.map((c) => CLIENTS[c]).join(" ")}`);
  }
}

export async function ensureServices(): Promise<void> {
  ensureClients();
  await Promise.all([ensurePostgres(), ensureRedis()]);
}

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** A new, empty database on the local PostgreSQL; `drop()` removes it. */
export async function createTestDatabase(label = "t"): Promise<TestDatabase> {
  const name = `pier_${label}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

/** A Redis key prefix unique to this run, so parallel files never see each other's keys. */
export function uniquePrefix(label = "t"): string {
  return `pier-test:${label}:${process.pid}:${Math.random().toString(36).slice(2, 8)}:`;
}
