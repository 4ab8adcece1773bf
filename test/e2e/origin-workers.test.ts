/**
 * The origin serving from several processes (PIER_WORKERS=2), as deployed (the bundle on
 * plain Node): two worker processes, children of the one the operator started, both answer
 * requests on the one port; /metrics reports the sum of what both served; SIGTERM to the
 * primary drains both and exits 0.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { get } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startOriginProcess, type OriginProcess } from "../support/origin-process.js";
import { createTestDatabase, REDIS_URL, uniquePrefix, type TestDatabase } from "../support/services.js";

let database: TestDatabase;
let storage: string;
let origin: OriginProcess;
let workerPids: number[];

/** One GET on a connection of its own (the primary hands connections to the workers in turn). */
function getOnNewConnection(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false, headers: { connection: "close" } }, (response) => {
      response.resume();
      response.on("end", () => resolve(response.statusCode!));
    }).on("error", reject);
  });
}

async function parentOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  // pid (comm) state ppid …: comm may hold spaces, so count from its closing parenthesis.
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
}

const alive = (pid: number) =>
  readFile(`/proc/${pid}/stat`).then(
    () => true,
    () => false,
  );

beforeAll(async () => {
  database = await createTestDatabase("workers");
  storage = await mkdtemp(join(tmpdir(), "pier-workers-"));
  origin = await startOriginProcess({
    DATABASE_URL: database.url,
    REDIS_URL,
    PIER_REDIS_PREFIX: uniquePrefix("workers"),
    PIER_STORAGE_DIR: storage,
    PIER_WORKERS: "2",
    PIER_LOG_REQUESTS: "true",
  });
  const started = /with 2 workers \(pids (\d+), (\d+)\)/.exec(origin.output());
  expect(started, origin.output()).not.toBeNull();
  workerPids = [Number(started![1]), Number(started![2])];
}, 120_000);

afterAll(async () => {
  await origin?.close();
  await database?.drop();
  await rm(storage, { recursive: true, force: true });
});

describe("PIER_WORKERS=2", () => {
  it("serves from two worker processes of the primary, and /metrics sums what both served", async () => {
    expect(new Set(workerPids).size).toBe(2);
    for (const pid of workerPids) expect(await parentOf(pid)).toBe(origin.pid);

    const statuses = await Promise.all(Array.from({ length: 20 }, () => getOnNewConnection(`${origin.url}/v2/`)));
    expect(statuses).toEqual(Array(20).fill(401));

    // Each request's log line names the process that answered it: both did.
    const served = origin
      .output()
      .split("\n")
      .filter((line) => line.startsWith("{") && line.includes('"path":"/v2/"'))
      .map((line) => JSON.parse(line) as { pid: number; worker: number });
    expect(served).toHaveLength(20);
    expect(new Set(served.map((line) => line.pid))).toEqual(new Set(workerPids));
    expect(new Set(served.map((line) => line.worker))).toEqual(new Set([1, 2]));

    // Whichever worker answers the scrape reports the group: all 20, not its own share.
    for (let scrape = 0; scrape < 2; scrape++) {
      const response = await getText(`${origin.url}/metrics`);
      expect(response).toMatch(/^pier_http_requests_total\{runtime="origin",family="base",method="GET",status="4xx"\} 20$/m);
      // Three processes' memory (primary and two workers), each well above 10 MB.
      const rss = Number(/^process_resident_memory_bytes\{runtime="origin"\} (\S+)$/m.exec(response)![1]);
      expect(rss).toBeGreaterThan(3 * 10 * 1024 * 1024);
    }
  });

  it("SIGTERM to the primary drains both workers and exits 0", async () => {
    process.kill(origin.pid, "SIGTERM");
    expect(await origin.exited).toBe(0);
    for (const pid of workerPids) expect(await alive(pid)).toBe(false);
    expect(origin.output()).not.toMatch(/did not stop cleanly|failed/);
  });
});

/** A GET's body, on a new connection (so the scrapes land on different workers). */
function getText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false, headers: { connection: "close" } }, (response) => {
      let body = "";
      response.on("data", (chunk: Buffer) => (body += chunk.toString()));
      response.on("end", () => resolve(body));
    }).on("error", reject);
  });
}
