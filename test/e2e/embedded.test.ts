/**
 * `npm start` end to end: the embedded registry starts on a fresh data directory
 * within 20 s, answers /v2/, stops cleanly on SIGINT/SIGTERM, and keeps its data and
 * its signing key across restarts.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { promisify } from "node:util";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pgliteSql } from "../../src/adapters/sql/pglite.js";
import { verifyPassword } from "../../src/core/auth/passwords.js";
import { spawnEntry, type Spawned } from "../support/process.js";

const execFileAsync = promisify(execFile);
const READY = /Pier registry ready at http:\/\/127\.0\.0\.1:(\d+) in ([\d.]+) s/;

describe("embedded registry (npm start)", () => {
  let dataDir: string;
  let first: Spawned;
  let port: number;
  let startedInMs: number;
  let generatedPassword: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "pier-embedded-"));
    const before = Date.now();
    first = spawnEntry("workers/embedded.ts", { PIER_DATA_DIR: dataDir, PORT: "0", PIER_ADMIN_USER: "root1" });
    const ready = await first.waitFor(READY, 20_000);
    startedInMs = Date.now() - before;
    port = Number(ready[1]);
    generatedPassword = (await first.waitFor(/Created admin user "root1" with password: (\S+)/, 1000))[1]!;
  }, 30_000);

  afterAll(async () => {
    first?.child.kill("SIGKILL");
    await rm(dataDir, { recursive: true, force: true });
  });

  it("is ready within 20 s and prints a login line", () => {
    expect(startedInMs).toBeLessThan(20_000);
    expect(first.output()).toContain(`skopeo login --tls-verify=false -u root1 127.0.0.1:${port}`);
  });

  it("answers GET /v2/ with the registry challenge", async () => {
    const response = await fetch(`http://127.0.0.1:${port}/v2/`);
    expect(response.status).toBe(401);
    expect(response.headers.get("docker-distribution-api-version")).toBe("registry/2.0");
    expect(response.headers.get("www-authenticate")).toBe(`Bearer realm="http://127.0.0.1:${port}/v2/auth",service="127.0.0.1:${port}"`);
  });

  it("reports its database healthy", async () => {
    const response = await fetch(`http://127.0.0.1:${port}/health/instance`);
    expect(await response.json()).toEqual({ data: { services: { database: true, cache: true } }, status_code: 200 });
  });

  it("lets skopeo log in as the admin with the printed password, and refuses a wrong one", async () => {
    const authfile = join(dataDir, "auth.json");
    const login = (password: string) =>
      execFileAsync("skopeo", ["login", "--tls-verify=false", "--authfile", authfile, "-u", "root1", "-p", password, `127.0.0.1:${port}`], {
        timeout: 30_000,
      });
    expect((await login(generatedPassword)).stdout).toContain("Login Succeeded");
    await expect(login("not-the-password")).rejects.toThrow(/invalid username\/password/);
  });

  it("refuses a second process on the same data directory", async () => {
    const second = spawnEntry("workers/embedded.ts", { PIER_DATA_DIR: dataDir, PORT: "0" });
    expect(await second.exited).not.toBe(0);
    expect(second.output()).toMatch(/is in use by another Pier process \(pid \d+\)/);
  });

  it("stops cleanly on SIGINT, and a restart on the same data keeps the admin and its password", async () => {
    first.child.kill("SIGINT");
    expect(await first.exited).toBe(0);
    expect(first.output()).toContain("Pier stopped");

    const sql = await pgliteSql(join(dataDir, "postgres"));
    const { rows } = await sql.query<{ password_hash: string }>(`SELECT password_hash FROM "user" WHERE username = 'root1'`);
    await sql.close();
    expect(await verifyPassword(generatedPassword, rows[0]!.password_hash)).toBe(true);

    const second = spawnEntry("workers/embedded.ts", { PIER_DATA_DIR: dataDir, PORT: "0", PIER_ADMIN_USER: "root1" });
    try {
      await second.waitFor(READY, 20_000);
      expect(second.output()).toContain('Admin user "root1" ready');
      expect(second.output()).not.toContain("with password");
    } finally {
      second.child.kill("SIGTERM");
      expect(await second.exited).toBe(0);
    }
  }, 40_000);

  it("keeps one signing key across restarts: one servicekey row, its private key 0600 in the data dir", async () => {
    const third = spawnEntry("workers/embedded.ts", { PIER_DATA_DIR: dataDir, PORT: "0", PIER_ADMIN_USER: "root1" });
    try {
      await third.waitFor(READY, 20_000);
    } finally {
      third.child.kill("SIGTERM");
      expect(await third.exited).toBe(0);
    }
    const sql = await pgliteSql(join(dataDir, "postgres"));
    const { rows } = await sql.query<{ kid: string }>(`SELECT kid FROM servicekey WHERE service = 'quay'`);
    await sql.close();
    const keyFile = join(dataDir, "instance-key.jwk");
    expect(rows).toEqual([{ kid: JSON.parse(await readFile(keyFile, "utf8")).kid }]);
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
  }, 40_000);
});
