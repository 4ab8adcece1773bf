/**
 * Starting and stopping as an operator does: `npm start` stops on SIGTERM and SIGINT sent
 * to the npm process or to the server itself, draining and releasing its data directory;
 * a start that fails says why in one line (exit 1) and never loses the generated admin
 * password; the origin waits for a database that is not up yet, then gives up clearly.
 */
import { spawn } from "node:child_process";
import { access, mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnEntry, type Spawned } from "../support/process.js";

const READY = /Pier registry ready at http:\/\/127\.0\.0\.1:(\d+)/;
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "pier-startup-"));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** `npm start` exactly as a user runs it, in the checkout, with its output collected. */
function npmStart(env: Record<string, string>): Spawned & { pid: number } {
  const child = spawn("npm", ["start"], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    listeners.forEach((l) => l());
  };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    child,
    pid: child.pid!,
    output: () => output,
    exited,
    waitFor: (pattern, timeoutMs) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}:\n${output}`)), timeoutMs);
        const check = () => {
          const match = output.match(pattern);
          if (!match) return;
          clearTimeout(timer);
          listeners.delete(check);
          resolve(match);
        };
        listeners.add(check);
        check();
      }),
  };
}

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

async function listening(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as { port: number }).port };
}

describe("npm start and signals", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`stops on ${signal} sent to the npm process: drained, "Pier stopped", exit 0, data directory released`, async () => {
      const dataDir = join(work, `npm-${signal}`);
      const started = npmStart({ PIER_DATA_DIR: dataDir, PORT: "0" });
      const port = Number((await started.waitFor(READY, 60_000))[1]);
      expect((await fetch(`http://127.0.0.1:${port}/v2/`)).status).toBe(401);
      process.kill(started.pid, signal);
      expect(await started.exited).toBe(0);
      expect(started.output()).toContain("Pier stopped");
      expect(await exists(join(dataDir, "pier.pid"))).toBe(false);
    }, 90_000);
  }

  it("stops on SIGTERM sent to the server process npm start leaves", async () => {
    const dataDir = join(work, "own-pid");
    const started = npmStart({ PIER_DATA_DIR: dataDir, PORT: "0" });
    await started.waitFor(READY, 60_000);
    const serverPid = Number((await readFile(join(dataDir, "pier.pid"), "utf8")).trim());
    expect(serverPid).not.toBe(started.pid);
    process.kill(serverPid, "SIGTERM");
    expect(await started.exited).toBe(0);
    expect(started.output()).toContain("Pier stopped");
    expect(await exists(join(dataDir, "pier.pid"))).toBe(false);
  }, 90_000);
});

describe("failed starts", () => {
  it("a busy port: one line naming the port and the fix, exit 1, the generated password kept, the lock released", async () => {
    const { server, port } = await listening();
    try {
      const dataDir = join(work, "busy");
      const started = spawnEntry("workers/embedded.ts", { PIER_DATA_DIR: dataDir, PORT: String(port), PIER_ADMIN_USER: "boss" });
      expect(await started.exited).toBe(1);
      const output = started.output();
      expect(output).toMatch(/Created admin user "boss" with password: \S+/);
      expect(output).toContain(`Pier embedded: port ${port} on 127.0.0.1 is in use: stop the other process or set PORT`);
      expect(output).not.toMatch(/^\s+at /m);
      expect(await exists(join(dataDir, "pier.pid"))).toBe(false);
    } finally {
      server.close();
    }
  }, 60_000);

  it("a bad setting: one line naming it", async () => {
    const started = spawnEntry("workers/embedded.ts", { PIER_DATA_DIR: join(work, "bad"), PORT: "eighty" });
    expect(await started.exited).toBe(1);
    expect(started.output().trim()).toBe('Pier embedded: configuration error: PORT must be an integer ≥ 0, got "eighty"');
  }, 60_000);

  it("a data directory another Pier holds: one line naming the holder", async () => {
    const dataDir = join(work, "held");
    const first = spawnEntry("workers/embedded.ts", { PIER_DATA_DIR: dataDir, PORT: "0" });
    try {
      await first.waitFor(READY, 60_000);
      const second = spawnEntry("workers/embedded.ts", { PIER_DATA_DIR: dataDir, PORT: "0" });
      expect(await second.exited).toBe(1);
      expect(second.output().trim()).toMatch(
        /^Pier embedded: .* is in use by another Pier process \(pid \d+\); stop it or choose another PIER_DATA_DIR$/,
      );
    } finally {
      first.child.kill("SIGTERM");
      await first.exited;
    }
  }, 90_000);

  it("the origin waits for a database that does not answer, then gives up with one line", async () => {
    const { server, port } = await listening();
    server.close();
    const started = spawnEntry("workers/origin.ts", {
      DATABASE_URL: `postgres://pier@127.0.0.1:${port}/pier`,
      PORT: "0",
      PIER_DATABASE_WAIT_S: "2",
    });
    expect(await started.exited).toBe(1);
    const output = started.output();
    expect(output).toContain(`Pier origin: waiting for the database at 127.0.0.1:${port}/pier`);
    expect(output).toContain(`Pier origin: cannot reach the database at 127.0.0.1:${port}/pier`);
    expect(output).not.toContain("listening");
    expect(output).not.toMatch(/^\s+at /m);
  }, 60_000);
});
