/**
 * The origin serving from several processes (PIER_WORKERS=2), as deployed (the bundle on
 * plain Node): two worker processes, children of the one the operator started, both answer
 * requests on the one port; /metrics reports the sum of what both served; a write through
 * one worker is seen at once through the other; SIGTERM to the primary drains both and exits 0.
 */
import { readFile } from "node:fs/promises";
import { get, request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MediaType } from "../../src/core/model/media-types.js";
import { originEnvOfFixture, startOriginProcess, type OriginProcess } from "../support/origin-process.js";
import { startOriginRegistry, TEST_HOST, type OriginFixture } from "../support/origin-registry.js";
import { createNamespace, createRepository, storeImage, tagManifest, unique } from "../support/quay-seed.js";

let fixture: OriginFixture;
let origin: OriginProcess;
let workerPids: number[];
let repository: string;

/** One GET on a connection of its own (the primary hands connections to the workers in turn). */
function getOnNewConnection(url: string, headers: Record<string, string> = {}): Promise<number> {
  return call("GET", url, headers);
}

/** A request on a connection of its own; resolves with the status. */
function call(method: string, url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    request(url, { method, agent: false, headers: { ...headers, connection: "close" } }, (response) => {
      response.resume();
      response.on("end", () => resolve(response.statusCode!));
    })
      .on("error", reject)
      .end();
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
  fixture = await startOriginRegistry("workers");
  const namespace = unique("workers");
  const repositoryId = await createRepository(
    fixture.registry,
    await createNamespace(fixture.registry, namespace, { organization: true }),
    "app",
    {
      visibility: "public",
    },
  );
  const image = await storeImage(fixture.registry, repositoryId);
  await tagManifest(fixture.registry, repositoryId, "v1", image.manifest.id);
  repository = `${namespace}/app`;
  origin = await startOriginProcess({
    ...originEnvOfFixture(fixture),
    PIER_SERVER_HOSTNAME: TEST_HOST,
    PIER_URL_SCHEME: "https",
    PIER_WORKERS: "2",
    PIER_LOG_REQUESTS: "true",
    // Far longer than the test: a worker still answering from its own memory would show.
    PIER_ISOLATE_CACHE_MS: "600000",
  });
  const started = /with 2 workers \(pids (\d+), (\d+)\)/.exec(origin.output());
  expect(started, origin.output()).not.toBeNull();
  workerPids = [Number(started![1]), Number(started![2])];
}, 120_000);

afterAll(async () => {
  await origin?.close();
  await fixture?.close();
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

  it("a tag deleted through one worker is gone on the other at once, though both held it in memory", async () => {
    const path = `/v2/${repository}/manifests/v1`;
    const headers = { accept: MediaType.ociManifest };
    const before = await Promise.all(Array.from({ length: 8 }, () => getOnNewConnection(`${origin.url}${path}`, headers)));
    expect(before).toEqual(Array(8).fill(200));
    const servedBy = (line: string) => line.includes(`"path":"${path}"`) && line.includes('"status":200');
    const warmed = origin
      .output()
      .split("\n")
      .filter(servedBy)
      .map((line) => (JSON.parse(line) as { pid: number }).pid);
    expect(new Set(warmed)).toEqual(new Set(workerPids));

    const token = await fixture.token("writer", { [repository]: ["pull", "push"] });
    expect(await call("DELETE", `${origin.url}${path}`, { authorization: `Bearer ${token}` })).toBe(202);

    const after = await Promise.all(Array.from({ length: 8 }, () => getOnNewConnection(`${origin.url}${path}`, headers)));
    expect(after).toEqual(Array(8).fill(404));
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
