/**
 * Starting and stopping as an operator does: `npm start` stops on SIGTERM and SIGINT sent
 * to the npm process or to the server itself, draining and releasing its data directory;
 * a start that fails says why in one line (exit 1) and never loses the generated admin
 * password; the origin waits for a database that is not up yet, then gives up clearly.
 */
import { spawn } from "node:child_process";
import { access, mkdtemp, readFile, rm } from "node:fs/promises";
import { connect, createServer, type Server, type Socket } from "node:net";
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

/**
 * `npm start` exactly as a user runs it, in the checkout, with its output collected;
 * `ownGroup` makes npm lead a process group, as a shell's foreground job does.
 */
function npmStart(env: Record<string, string>, ownGroup = false): Spawned & { pid: number } {
  const child = spawn("npm", ["start"], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"], detached: ownGroup });
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

/** Resolves once the process has been alive `ms` more milliseconds, or rejects if it exits first. */
async function stillRunning(started: Spawned, ms: number): Promise<void> {
  const exited = await Promise.race([started.exited.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), ms))]);
  if (exited) throw new Error(`exited while a request was in flight:\n${started.output()}`);
}

/**
 * A blob upload in flight on the registry at `port`, as the admin: a PATCH whose chunked
 * body has begun and is ended by `finish`; `response` is what the server answers, once the
 * socket closes (empty when the connection was cut off).
 */
async function uploadInFlight(port: number, password: string): Promise<{ finish(): void; response: Promise<string> }> {
  const base = `http://127.0.0.1:${port}`;
  const basic = `Basic ${Buffer.from(`admin:${password}`).toString("base64")}`;
  const auth = await fetch(`${base}/v2/auth?service=127.0.0.1:${port}&scope=repository:admin/drain:push,pull`, {
    headers: { authorization: basic },
  });
  expect(auth.status).toBe(200);
  const { token } = (await auth.json()) as { token: string };
  const upload = await fetch(`${base}/v2/admin/drain/blobs/uploads/`, { method: "POST", headers: { authorization: `Bearer ${token}` } });
  expect(upload.status).toBe(202);
  const location = new URL(upload.headers.get("location")!, base);
  const socket: Socket = connect(port, "127.0.0.1");
  await new Promise((resolve) => socket.once("connect", resolve));
  let answer = "";
  socket.on("data", (data: Buffer) => (answer += data.toString()));
  const response = new Promise<string>((resolve) => socket.once("close", () => resolve(answer)));
  socket.write(
    `PATCH ${location.pathname}${location.search} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${token}\r\n` +
      "Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n",
  );
  await new Promise((r) => setTimeout(r, 300));
  return { finish: () => socket.write("0\r\n\r\n"), response };
}

const generatedPassword = (output: string) => /Created admin user "admin" with password: (\S+)/.exec(output)![1]!;

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

describe("npm start drains what is in flight", () => {
  it("an upload in flight at SIGTERM is finished and answered before Pier stops", async () => {
    const dataDir = join(work, "drain");
    const started = npmStart({ PIER_DATA_DIR: dataDir, PORT: "0" });
    const port = Number((await started.waitFor(READY, 60_000))[1]);
    const upload = await uploadInFlight(port, generatedPassword(started.output()));
    process.kill(started.pid, "SIGTERM");
    await stillRunning(started, 500);
    expect(started.output()).not.toContain("Pier stopped");
    upload.finish();
    expect(await upload.response).toMatch(/^HTTP\/1\.1 202 /);
    expect(await started.exited).toBe(0);
    expect(started.output()).toContain("Pier stopped");
    expect(await exists(join(dataDir, "pier.pid"))).toBe(false);
  }, 90_000);

  it("Ctrl-C (SIGINT to the process group, which npm forwards again) drains; a second Ctrl-C cuts off the rest and still stops cleanly", async () => {
    const dataDir = join(work, "ctrl-c");
    const started = npmStart({ PIER_DATA_DIR: dataDir, PORT: "0" }, true);
    const port = Number((await started.waitFor(READY, 60_000))[1]);
    const password = generatedPassword(started.output());
    const finishing = await uploadInFlight(port, password);
    const stuck = await uploadInFlight(port, password);
    process.kill(-started.pid, "SIGINT");
    // Draining: the grace period (10 s by default) has not run out, and npm's copy of the signal changed nothing.
    await stillRunning(started, 1_500);
    finishing.finish();
    expect(await finishing.response).toMatch(/^HTTP\/1\.1 202 /);
    await stillRunning(started, 200);
    const second = Date.now();
    process.kill(-started.pid, "SIGINT");
    expect(await stuck.response).not.toMatch(/^HTTP\/1\.1 202 /);
    expect(await started.exited).toBe(0);
    expect(Date.now() - second).toBeLessThan(5_000);
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

  it("the origin refuses an unknown storage location name at once, naming it", async () => {
    const started = spawnEntry("workers/origin.ts", {
      DATABASE_URL: "postgres://pier@127.0.0.1:1/pier",
      PORT: "0",
      PIER_STORAGE_LOCATIONS: JSON.stringify({ us: { dir: join(work, "us") }, eu: { dir: join(work, "eu") } }),
      PIER_STORAGE_PREFERENCE: "us mars",
    });
    expect(await started.exited).toBe(1);
    expect(started.output().trim()).toBe(
      'Pier origin: configuration error: PIER_STORAGE_PREFERENCE names storage location "mars", which is not configured (configured: us, eu)',
    );
  }, 60_000);

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
