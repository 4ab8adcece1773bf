/**
 * Robots end to end on the embedded registry (`npm start`) with no secret key configured:
 * the admin creates an organization and a robot through /api/v1 the way curl would,
 * then skopeo and podman log in as the robot. The generated database secret key is kept
 * (mode 0600) in the data directory, so the robot still logs in after a restart.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnEntry, type Spawned } from "../support/process.js";

const execFileAsync = promisify(execFile);
const READY = /Pier registry ready at http:\/\/127\.0\.0\.1:(\d+) in/;
const ADMIN = "root1";
const PASSWORD = "admin-password-1";
const ORG = "e2eorg";
const ROBOT = `${ORG}+deployer`;

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
}

describe("robot login on the embedded registry", () => {
  let dataDir: string;
  let registry: Spawned;
  let address: string;
  let robotToken: string;

  async function start(): Promise<void> {
    registry = spawnEntry("workers/embedded.ts", {
      PIER_DATA_DIR: dataDir,
      PORT: "0",
      PIER_ADMIN_USER: ADMIN,
      PIER_ADMIN_PASSWORD: PASSWORD,
      PIER_DATABASE_SECRET_KEY: "",
    });
    address = `127.0.0.1:${(await registry.waitFor(READY, 20_000))[1]}`;
  }

  async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: { token?: string } }> {
    const response = await fetch(`http://${address}${path}`, {
      method,
      headers: { authorization: basic(ADMIN, PASSWORD), "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, json: (await response.json()) as { token?: string } };
  }

  async function login(client: "skopeo" | "podman", username: string, password: string) {
    const authfile = join(dataDir, `${client}-auth.json`);
    const args = ["login", "--tls-verify=false", "--authfile", authfile, "-u", username, "-p", password, address];
    const command =
      client === "podman"
        ? [
            "--storage-driver",
            "vfs",
            "--cgroup-manager",
            "cgroupfs",
            "--events-backend",
            "file",
            "--root",
            join(dataDir, "podman"),
            ...args,
          ]
        : args;
    return execFileAsync(client, command, { timeout: 30_000 });
  }

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "pier-robot-login-"));
    await start();
  }, 30_000);

  afterAll(async () => {
    registry?.child.kill("SIGKILL");
    await rm(dataDir, { recursive: true, force: true });
  });

  it("creates an organization and a robot through /api/v1 with the admin's Basic credentials", async () => {
    expect(await api("POST", "/api/v1/organization/", { name: ORG })).toEqual({ status: 201, json: "Created" });
    const robot = await api("PUT", `/api/v1/organization/${ORG}/robots/deployer`, { description: "deploys" });
    expect(robot.status).toBe(201);
    expect(robot.json.token).toMatch(/^[A-Z0-9]{64}$/);
    robotToken = robot.json.token!;
  });

  it("keeps the generated database secret key in the data directory, readable by its owner only", async () => {
    const info = await stat(join(dataDir, "database-secret-key"));
    expect(info.mode & 0o777).toBe(0o600);
  });

  it("lets skopeo log in as the robot, and refuses a wrong token", async () => {
    expect((await login("skopeo", ROBOT, robotToken)).stdout).toContain("Login Succeeded");
    await expect(login("skopeo", ROBOT, "X".repeat(64))).rejects.toThrow(/invalid username\/password|unauthorized/i);
  });

  it("lets podman log in as the robot", async () => {
    expect((await login("podman", ROBOT, robotToken)).stdout).toContain("Login Succeeded");
  });

  it("still accepts the robot after a restart (the key was kept)", async () => {
    registry.child.kill("SIGINT");
    expect(await registry.exited).toBe(0);
    await start();
    expect((await login("skopeo", ROBOT, robotToken)).stdout).toContain("Login Succeeded");
    registry.child.kill("SIGTERM");
    expect(await registry.exited).toBe(0);
  }, 40_000);
});
