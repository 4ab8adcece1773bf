/**
 * A Quay operator's config.yaml, as the runtimes read it at start: the origin as deployed
 * (bundled, plain Node) with PIER_CONFIG and `pier start --config` serve with the file's
 * SERVER_HOSTNAME, database, Redis, LocalStorage path, SUPER_USERS and FEATURE flags; a key
 * Pier cannot honour stops the start with one line naming it (exit 1).
 */
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodePostgresSql } from "../../src/adapters/sql/node-postgres.js";
import { ensureUser } from "../../src/core/accounts.js";
import { systemClock } from "../../src/core/ports/clock.js";
import { migrate } from "../../src/db/migrate.js";
import { startOriginProcess, type OriginProcess } from "../support/origin-process.js";
import { spawnEntry } from "../support/process.js";
import { unique } from "../support/quay-seed.js";
import { createTestDatabase, REDIS_URL, type TestDatabase } from "../support/services.js";

const HOST = "registry.quay.test";
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "pier-quay-config-e2e-"));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Pushes `bytes` as one monolithic upload to `repo` as `user`; the response status. */
async function pushBlob(
  base: string,
  user: string,
  password: string,
  repo: string,
  bytes: Buffer,
): Promise<{ status: number; digest: string }> {
  const auth = await fetch(`${base}/v2/auth?service=${HOST}&scope=repository:${repo}:push,pull`, {
    headers: { authorization: basic(user, password) },
  });
  expect(auth.status).toBe(200);
  const { token } = (await auth.json()) as { token: string };
  const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
  const response = await fetch(`${base}/v2/${repo}/blobs/uploads/?digest=${digest}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/octet-stream" },
    body: new Uint8Array(bytes),
  });
  await response.arrayBuffer();
  return { status: response.status, digest };
}

/** Where Quay's LocalStorage (and Pier's filesystem store) keeps a blob under storage_path. */
const blobPath = (storagePath: string, digest: string) => {
  const hex = digest.slice("sha256:".length);
  return join(storagePath, "sha256", hex.slice(0, 2), hex);
};

describe("the origin with PIER_CONFIG", () => {
  let database: TestDatabase;
  let origin: OriginProcess;
  let storagePath: string;

  beforeAll(async () => {
    database = await createTestDatabase("quaycfg");
    const sql = nodePostgresSql(database.url, { max: 1, timeouts: null });
    try {
      await migrate(sql);
      for (const username of ["alice", "bob"]) {
        await ensureUser(sql, systemClock, {
          username,
          email: `${username}@example.com`,
          password: `${username}-password`,
          removedTagExpirationSeconds: 0,
        });
      }
    } finally {
      await sql.close();
    }
    storagePath = join(work, "datastorage");
    const redis = new URL(REDIS_URL);
    const config = join(work, "origin-config.yaml");
    await writeFile(
      config,
      [
        `SERVER_HOSTNAME: ${HOST}`,
        "PREFERRED_URL_SCHEME: http",
        "AUTHENTICATION_TYPE: Database",
        `DB_URI: ${database.url.replace(/^postgres(ql)?:/, "postgresql+psycopg2:")}`,
        "DB_CONNECTION_ARGS: {autorollback: true, threadlocals: true}",
        "DATABASE_SECRET_KEY: quay-config-test-secret",
        `BUILDLOGS_REDIS: {host: ${redis.hostname}, port: ${redis.port || 6379}}`,
        `USER_EVENTS_REDIS: {host: ${redis.hostname}, port: ${redis.port || 6379}}`,
        "DISTRIBUTED_STORAGE_CONFIG:",
        `  local_us: [LocalStorage, {storage_path: ${storagePath}}]`,
        "DISTRIBUTED_STORAGE_PREFERENCE: [local_us]",
        "SUPER_USERS: [alice]",
        "FEATURE_QUOTA_MANAGEMENT: true",
        "FEATURE_MAILING: false",
        "DEFAULT_TAG_EXPIRATION: 2w",
        "TAG_EXPIRATION_OPTIONS: [0s, 1d, 2w]",
        "SETUP_COMPLETE: true",
        "MY_OWN_SETTING: 1",
        "",
      ].join("\n"),
    );
    // The database is migrated above; the Redis prefix keeps this run's keys apart (environment and file together).
    origin = await startOriginProcess({ PIER_CONFIG: config, PIER_MIGRATE_ON_START: "false", PIER_REDIS_PREFIX: `${unique("quaycfg")}:` });
  }, 90_000);

  afterAll(async () => {
    await origin?.close();
    await database?.drop();
  });

  it("says which file it read and reports the keys it does not use or know, once each", () => {
    const output = origin.output();
    expect(output).toContain("(environment variables override it)");
    expect(output.match(/unknown keys, ignored: MY_OWN_SETTING$/gm)).toHaveLength(1);
    expect(output.match(/not used by Pier: FEATURE_MAILING, SETUP_COMPLETE$/gm)).toHaveLength(1);
  });

  it("challenges for SERVER_HOSTNAME with PREFERRED_URL_SCHEME", async () => {
    const response = await fetch(`${origin.url}/v2/`);
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toBe(`Bearer realm="http://${HOST}/v2/auth",service="${HOST}"`);
  });

  it("lets a user of SUPER_USERS, and only that user, use a superuser endpoint", async () => {
    const run = (user: string) =>
      fetch(`${origin.url}/api/v1/superuser/jobs/gc?dry_run=true`, {
        method: "POST",
        headers: { authorization: basic(user, `${user}-password`) },
      });
    const alice = await run("alice");
    expect(alice.status).toBe(200);
    expect(await alice.json()).toMatchObject({ job: "gc" });
    const bob = await run("bob");
    expect(bob.status).toBe(403);
  });

  it("serves the quota API because FEATURE_QUOTA_MANAGEMENT is true", async () => {
    const response = await fetch(`${origin.url}/api/v1/user/quota`, { headers: { authorization: basic("bob", "bob-password") } });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual([]);
  });

  it("stores pushed blobs under the LocalStorage storage_path, in Quay's layout", async () => {
    const bytes = Buffer.from(`layer bytes ${crypto.randomUUID()}`);
    const { status, digest } = await pushBlob(origin.url, "alice", "alice-password", "alice/app", bytes);
    expect(status).toBe(201);
    expect(await readFile(blobPath(storagePath, digest))).toEqual(bytes);
  });
});

describe("pier start --config", () => {
  it("serves with the file's SERVER_HOSTNAME and LocalStorage path, keeping its own database", async () => {
    const storagePath = join(work, "embedded-storage");
    const config = join(work, "embedded-config.yaml");
    await writeFile(
      config,
      [
        `SERVER_HOSTNAME: ${HOST}`,
        "DB_URI: postgresql://quay:quay@quay-db.invalid/quay",
        "DISTRIBUTED_STORAGE_CONFIG:",
        `  default: [LocalStorage, {storage_path: ${storagePath}}]`,
        "SUPER_USERS: [admin]",
        "",
      ].join("\n"),
    );
    const started = spawnEntry(
      "scripts/pier.mjs",
      { PIER_DATA_DIR: join(work, "embedded-data"), PORT: "0", PIER_ADMIN_PASSWORD: "admin-password" },
      ["start", "--config", config],
      { plain: true },
    );
    try {
      const port = Number((await started.waitFor(/Pier registry ready at http:\/\/127\.0\.0\.1:(\d+)/, 60_000))[1]);
      expect(started.output()).toContain(`Pier embedded: ${config}: DB_URI not used: pier start keeps its database and cache itself`);
      const base = `http://127.0.0.1:${port}`;
      expect((await fetch(`${base}/v2/`)).headers.get("www-authenticate")).toBe(`Bearer realm="http://${HOST}/v2/auth",service="${HOST}"`);
      const bytes = Buffer.from(`embedded layer ${crypto.randomUUID()}`);
      const { status, digest } = await pushBlob(base, "admin", "admin-password", "admin/app", bytes);
      expect(status).toBe(201);
      expect(await readFile(blobPath(storagePath, digest))).toEqual(bytes);
    } finally {
      started.child.kill("SIGTERM");
      await started.exited;
    }
  }, 90_000);
});

describe("a setting Pier cannot honour", () => {
  it("stops the origin at start with one line naming the key, exit 1 (pier origin --config)", async () => {
    const config = join(work, "mysql.yaml");
    await writeFile(config, "SERVER_HOSTNAME: quay.example.com\nDB_URI: mysql+pymysql://quay:quay@db.example.com/quay\n");
    const started = spawnEntry("scripts/pier.mjs", { PORT: "0" }, ["origin", "--config", config], { plain: true });
    expect(await started.exited).toBe(1);
    expect(started.output().trim()).toBe(
      `Pier origin: configuration error: ${config}: DB_URI: Pier stores its data in PostgreSQL only, got a mysql+pymysql database`,
    );
  }, 60_000);

  it("stops pier start too (PIER_CONFIG), before touching its data directory", async () => {
    const config = join(work, "readonly.yaml");
    await writeFile(config, "REGISTRY_STATE: readonly\n");
    const dataDir = join(work, "never-created");
    const started = spawnEntry("workers/embedded.ts", { PIER_CONFIG: config, PIER_DATA_DIR: dataDir, PORT: "0" });
    expect(await started.exited).toBe(1);
    expect(started.output().trim()).toBe(
      `Pier embedded: configuration error: ${config}: REGISTRY_STATE: "readonly" is not supported: Pier has no read-only mode`,
    );
    await expect(readFile(join(dataDir, "pier.pid"))).rejects.toThrow(/ENOENT/);
  }, 60_000);
});
