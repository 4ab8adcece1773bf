/** What the report says about where and with what it ran: the machine and every version involved. */
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import pg from "pg";
import { POSTGRES_ADMIN_URL, REDIS_URL } from "../test/support/services.js";
import { machineInfo, type MachineInfo } from "./proc.js";

const run = promisify(execFile);

export interface Environment {
  date: string;
  machine: MachineInfo;
  versions: Record<string, string>;
}

async function command(file: string, args: readonly string[], pattern = /^(.*)$/m): Promise<string> {
  // Some tools print their version with a non-zero exit (wrk -v): read the output either way.
  const { stdout = "", stderr = "" } = await run(file, args).catch((error: { stdout?: string; stderr?: string }) => error);
  return pattern.exec(`${stdout}${stderr}`)?.[1]?.trim() || "unknown";
}

async function packageVersion(name: string): Promise<string> {
  const text = await readFile(new URL(`../node_modules/${name}/package.json`, import.meta.url), "utf8");
  return (JSON.parse(text) as { version: string }).version;
}

async function postgresVersion(): Promise<string> {
  const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await client.connect();
  try {
    return (await client.query<{ server_version: string }>("SHOW server_version")).rows[0]!.server_version;
  } finally {
    await client.end();
  }
}

async function redisVersion(): Promise<string> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    return /^redis_version:(.+)$/m.exec(await redis.info("server"))?.[1]?.trim() ?? "unknown";
  } finally {
    redis.disconnect();
  }
}

export async function describeEnvironment(): Promise<Environment> {
  const commit = await command("git", ["rev-parse", "--short", "HEAD"]);
  // The report it is about to overwrite does not count as a change to what is measured.
  const status = await run("git", ["status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)docs/benchmarks.md"]).then(
    (r) => r.stdout,
    () => "",
  );
  return {
    date: new Date().toISOString(),
    machine: await machineInfo(),
    versions: {
      Pier: `${commit}${status.trim() === "" ? "" : " + uncommitted changes in the working tree"}`,
      Node: process.version,
      workerd: await packageVersion("workerd"),
      Miniflare: await packageVersion("miniflare"),
      "CNCF Distribution (peer)": await command("docker-registry", ["--version"], /(\S+)\s*$/),
      Debian: (await readFile("/etc/debian_version", "utf8")).trim(),
      PostgreSQL: await postgresVersion(),
      Redis: await redisVersion(),
      skopeo: await command("skopeo", ["--version"], /version (\S+)/),
      wrk: await command("wrk", ["-v"], /^wrk (\S+)/m),
      hey: await command("dpkg-query", ["-W", "-f", "${Version}", "hey"]),
    },
  };
}
