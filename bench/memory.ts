/**
 * Idle memory of the Node runtimes as an operator starts them (issue 12's targets: the
 * embedded registry under 200 MB, the origin under 120 MB): resident memory of the
 * process and its descendants a few seconds after it said it was ready, before any load.
 * The embedded registry is `npm start` itself, on a new data directory (a first start:
 * initdb and every migration) and then again on the same one (a restart).
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { originEnvFor, startOriginProcess } from "../test/support/origin-process.js";
import type { EdgeBindings } from "../test/support/gateways.js";
import { REDIS_URL } from "../test/support/services.js";
import { NO_GC_TIMER } from "./pier.js";
import { treeRssBytes } from "./proc.js";

export interface IdleMemoryRow {
  runtime: string;
  processes: number;
  rssBytes: number;
  /** The bound for one process of this runtime, in bytes (judged on the tree's RSS ÷ its processes). */
  targetBytes: number;
  error: string | null;
}

const SETTLE_MS = 5_000;
const MB = 1_000_000;
const settle = () => new Promise((resolve) => setTimeout(resolve, SETTLE_MS));

/** `npm start` on `dataDir` until ready, the tree's RSS once settled, then SIGTERM to the server process. */
async function embeddedIdle(dataDir: string): Promise<{ bytes: number; processes: number }> {
  const child = spawn("npm", ["start"], { env: { ...process.env, PIER_DATA_DIR: dataDir, PORT: "0" }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start was not ready within 120 s: ${output.slice(-300)}`)), 120_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("Pier registry ready at")) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    void exited.then(() => reject(new Error(`npm start exited: ${output.slice(-300)}`)));
  });
  const server = Number((await readFile(join(dataDir, "pier.pid"), "utf8")).trim());
  try {
    await settle();
    return await treeRssBytes(server);
  } finally {
    process.kill(server, "SIGTERM");
    await exited;
  }
}

async function originIdle(bindings: EdgeBindings, workers: string): Promise<{ bytes: number; processes: number }> {
  const origin = await startOriginProcess({ ...originEnvFor(bindings, REDIS_URL), ...NO_GC_TIMER, PIER_WORKERS: workers });
  try {
    await settle();
    return await treeRssBytes(origin.pid);
  } finally {
    await origin.close();
  }
}

export async function measureIdleMemory(bindings: EdgeBindings, cores: number, log: (line: string) => void): Promise<IdleMemoryRow[]> {
  const rows: IdleMemoryRow[] = [];
  const measure = async (runtime: string, targetBytes: number, run: () => Promise<{ bytes: number; processes: number }>) => {
    try {
      const { bytes, processes } = await run();
      rows.push({ runtime, processes, rssBytes: bytes, targetBytes, error: null });
      log(`idle RSS, ${runtime}: ${(bytes / MB).toFixed(0)} MB in ${processes} process(es)`);
    } catch (error) {
      rows.push({ runtime, processes: 0, rssBytes: 0, targetBytes, error: error instanceof Error ? error.message : String(error) });
    }
  };
  const dataDir = await mkdtemp(join(tmpdir(), "pier-bench-embedded-"));
  try {
    await measure("embedded (npm start), first start", 200 * MB, () => embeddedIdle(dataDir));
    await measure("embedded (npm start), restart", 200 * MB, () => embeddedIdle(dataDir));
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
  await measure("origin, PIER_WORKERS=1", 120 * MB, () => originIdle(bindings, "1"));
  await measure(`origin, default (${cores} workers and the primary)`, 120 * MB, () => originIdle(bindings, String(cores)));
  return rows;
}
