/**
 * `npm run job`: against the origin's settings (a real PostgreSQL database, Redis and a
 * filesystem store) it runs a job now and prints what it removed; against a data
 * directory a running embedded registry holds, it asks that registry over the API.
 */
import { serve } from "@hono/node-server";
import { spawn } from "node:child_process";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fsBlobStore } from "../../src/adapters/blob/fs.js";
import { nodePostgresSql } from "../../src/adapters/sql/node-postgres.js";
import { pgliteSql } from "../../src/adapters/sql/pglite.js";
import type { Sql } from "../../src/core/ports/sql.js";
import { jobs } from "../../src/core/jobs/scheduler.js";
import { uploadKey } from "../../src/core/storage-layout.js";
import { migrate } from "../../src/db/migrate.js";
import { startApiHarness, type ApiHarness } from "../support/api-harness.js";
import { createNamespace, createRepository, unique } from "../support/quay-seed.js";
import { createTestDatabase, REDIS_URL, type TestDatabase } from "../support/services.js";

interface CliResult {
  code: number | null;
  output: string;
}

/** A stale (3 days) and a fresh (1 minute) upload session with 3 bytes each, in a new repository. */
async function seedUploads(sql: Sql, root: string, stale: string, fresh: string): Promise<void> {
  const target = { sql, blobs: fsBlobStore({ root }) };
  const repositoryId = await createRepository(target, await createNamespace(target, unique("jobcli")), "app");
  const location = await sql.query<{ id: number }>(`SELECT id FROM imagestoragelocation ORDER BY id LIMIT 1`);
  for (const [uuid, age] of [
    [stale, 3 * 24 * 3600_000],
    [fresh, 60_000],
  ] as const) {
    await sql.query(
      `INSERT INTO blobupload (repository_id, uuid, byte_count, location_id, storage_metadata, chunk_count, created)
       VALUES ($1, $2, 3, $3, '{}', 1, $4)`,
      [repositoryId, uuid, location.rows[0]!.id, new Date(Date.now() - age)],
    );
    await target.blobs.put(uploadKey(uuid), new Blob(["abc"]).stream(), 3);
  }
}

/** `npm run job -- <args>` with `env` on top of this process's, without DATABASE_URL unless given. */
function runJobCli(args: string[], env: Record<string, string>): Promise<CliResult> {
  const { DATABASE_URL: _ignored, ...inherited } = process.env;
  const child = spawn("npm", ["run", "--silent", "job", "--", ...args], {
    env: { ...inherited, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve) => child.once("close", (code) => resolve({ code, output })));
}

describe("npm run job against the origin's database and storage", () => {
  let db: TestDatabase;
  let sql: Sql;
  let storageDir: string;
  let env: Record<string, string>;
  const stale = crypto.randomUUID();
  const fresh = crypto.randomUUID();
  const blobs = () => fsBlobStore({ root: storageDir });
  const uploads = async () =>
    (await sql.query<{ uuid: string }>(`SELECT uuid FROM blobupload ORDER BY uuid`)).rows.map((row) => row.uuid).sort();

  beforeAll(async () => {
    db = await createTestDatabase("jobcli");
    sql = nodePostgresSql(db.url);
    await migrate(sql);
    storageDir = await mkdtemp(join(tmpdir(), "pier-job-cli-"));
    // A Redis database of its own: the job leases of the suite's other runners never collide with these runs.
    env = { DATABASE_URL: db.url, REDIS_URL: `${REDIS_URL.replace(/\/\d*$/, "")}/7`, PIER_STORAGE_DIR: storageDir };
    await seedUploads(sql, storageDir, stale, fresh);
  });
  afterAll(async () => {
    await sql.close();
    await db.drop();
    await rm(storageDir, { recursive: true, force: true });
  });

  it("runs every job once in a dry run, reporting what it would remove and removing nothing", async () => {
    const { code, output } = await runJobCli(["all", "--dry-run"], env);
    expect(code).toBe(0);
    expect(output).toContain(`upload-cleanup: upload ${stale} (started `);
    expect(output).toContain("upload-cleanup: would process 1");
    expect(output).toContain("upload-orphans: skipped (no-dry-run)");
    // Other jobs may find things to report too; the round count is what a dry run fixes.
    expect(output).toMatch(/^all: 1 round, [1-9]\d* items? \(dry run\)$/m);
    expect(await uploads()).toEqual([fresh, stale].sort());
    expect(await blobs().stat(uploadKey(stale))).toEqual({ size: 3 });
  }, 60_000);

  it("runs one job now: the stale upload's row and bytes are gone, the fresh one stays", async () => {
    const { code, output } = await runJobCli(["upload-cleanup"], env);
    expect(code).toBe(0);
    expect(output).toContain(`upload-cleanup: upload ${stale} (started `);
    expect(output).toContain("upload-cleanup: processed 1");
    expect(await uploads()).toEqual([fresh]);
    expect(await blobs().stat(uploadKey(stale))).toBeNull();
    expect(await blobs().stat(uploadKey(fresh))).toEqual({ size: 3 });
  }, 60_000);

  it("runs rounds until nothing is left", async () => {
    const { code, output } = await runJobCli(["all"], env);
    expect(code).toBe(0);
    expect(output).toContain("upload-cleanup: processed 0");
    expect(output).toMatch(/^all: \d+ rounds?, \d+ items?$/m);
  }, 60_000);

  it("exits 2 with the list of jobs for an unknown one", async () => {
    const { code, output } = await runJobCli(["no-such-job"], env);
    expect(code).toBe(2);
    expect(output).toContain(`jobs: ${jobs.map((job) => job.name).join(", ")}`);
    expect(output).toContain("upload-cleanup");
  }, 60_000);

  it("reads Quay's config.yaml named by PIER_CONFIG, as the origin does (a CronJob beside origins)", async () => {
    const bundle = join(storageDir, "config.yaml");
    await writeFile(bundle, `DB_URI: ${db.url}\n`);
    const { DATABASE_URL: _fromBundle, ...rest } = env;
    const { code, output } = await runJobCli(["upload-cleanup", "--dry-run"], { ...rest, PIER_CONFIG: bundle });
    expect(code, output).toBe(0);
    expect(output).toContain(`pier job: read ${bundle}`);
    expect(output).toMatch(/^upload-cleanup: would process \d+$/m);
  }, 60_000);

  it("exits 2 naming the file when PIER_CONFIG cannot be read", async () => {
    const missing = join(storageDir, "no-such-config.yaml");
    const { code, output } = await runJobCli(["all"], { ...env, PIER_CONFIG: missing });
    expect(code).toBe(2);
    expect(output).toContain(`cannot read the config file ${missing}: ENOENT`);
  }, 60_000);
});

describe("npm run job on an embedded data directory no registry holds", () => {
  it("opens the directory itself and releases its lock afterwards", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "pier-job-cli-embedded-"));
    try {
      const stale = crypto.randomUUID();
      const fresh = crypto.randomUUID();
      const sql = await pgliteSql(join(dataDir, "postgres"));
      await migrate(sql);
      await seedUploads(sql, join(dataDir, "storage"), stale, fresh);
      await sql.close();
      const { code, output } = await runJobCli(["upload-cleanup"], { PIER_DATA_DIR: dataDir });
      expect(code).toBe(0);
      expect(output).toContain(`upload-cleanup: upload ${stale} (started `);
      expect(output).toContain("upload-cleanup: processed 1");
      expect(await readdir(join(dataDir, "storage", "uploads"))).toEqual([fresh]);
      expect(await readdir(dataDir)).not.toContain("pier.pid");
      const reopened = await pgliteSql(join(dataDir, "postgres"));
      const left = await reopened.query<{ uuid: string }>(`SELECT uuid FROM blobupload`);
      await reopened.close();
      expect(left.rows.map((row) => row.uuid)).toEqual([fresh]);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 90_000);
});

describe("npm run job where a running embedded registry holds the data directory", () => {
  let api: ApiHarness;
  let dataDir: string;
  let server: ReturnType<typeof serve>;
  let url: string;

  beforeAll(async () => {
    api = await startApiHarness("jobcliremote");
    dataDir = await mkdtemp(join(tmpdir(), "pier-job-cli-data-"));
    // This test process stands in for the registry holding the directory.
    await writeFile(join(dataDir, "pier.pid"), String(process.pid));
    server = serve({ fetch: api.app.fetch, hostname: "127.0.0.1", port: 0 });
    await new Promise<void>((resolve) => (server.listening ? resolve() : server.once("listening", () => resolve())));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await api.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("asks the registry through the superuser endpoint with the admin's credentials", async () => {
    const env = { PIER_DATA_DIR: dataDir, PIER_JOB_URL: url, PIER_ADMIN_USER: api.root.username, PIER_ADMIN_PASSWORD: api.root.password };
    const { code, output } = await runJobCli(["all", "--dry-run"], env);
    expect(code).toBe(0);
    expect(output).toMatch(/^upload-cleanup: would process \d+$/m);
    expect(output).toContain("upload-orphans: skipped (no-dry-run)");
    expect(output).toMatch(/^all: 1 round, \d+ items? \(dry run\)$/m);
  }, 60_000);

  it("fails with the registry's answer when the credentials are refused, and asks for them when absent", async () => {
    const refused = await runJobCli(["upload-cleanup"], {
      PIER_DATA_DIR: dataDir,
      PIER_JOB_URL: url,
      PIER_ADMIN_USER: "nobody",
      PIER_ADMIN_PASSWORD: "wrong",
    });
    expect(refused.code).toBe(1);
    expect(refused.output).toMatch(/upload-cleanup: failed: .* answered 401: /);
    const missing = await runJobCli(["upload-cleanup"], { PIER_DATA_DIR: dataDir, PIER_JOB_URL: url, PIER_ADMIN_PASSWORD: "" });
    expect(missing.code).toBe(2);
    expect(missing.output).toContain(`is held by a running Pier (pid ${process.pid}); set PIER_ADMIN_PASSWORD`);
  }, 60_000);
});
