/**
 * The peer: CNCF Distribution (`docker-registry serve`) with filesystem storage in a
 * temp dir, no auth, on a free port, logging only errors (Pier logs no access lines either).
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../test/support/edge-server.js";

export interface PeerRegistry {
  url: string;
  host: string;
  pid: number;
  close(): Promise<void>;
}

const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;

function config(root: string, port: number): string {
  return [
    "version: 0.1",
    "log:",
    "  level: error",
    "  accesslog:",
    "    disabled: true",
    "storage:",
    "  filesystem:",
    `    rootdirectory: ${root}`,
    // Debian's packaged default: blob descriptors cached in memory.
    "  cache:",
    "    blobdescriptor: inmemory",
    "http:",
    `  addr: 127.0.0.1:${port}`,
    "",
  ].join("\n");
}

async function waitUntilServing(url: string, exited: () => boolean, output: () => string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exited()) throw new Error(`docker-registry exited at start:\n${output()}`);
    const status = await fetch(`${url}/v2/`).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`docker-registry did not serve ${url}/v2/ within ${START_TIMEOUT_MS} ms:\n${output()}`);
}

export async function startPeerRegistry(): Promise<PeerRegistry> {
  const dir = await mkdtemp(join(tmpdir(), "pier-bench-peer-"));
  const port = await freePort();
  const configPath = join(dir, "config.yml");
  await writeFile(configPath, config(join(dir, "storage"), port));
  const child = spawn("docker-registry", ["serve", configPath], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.on("error", (error) => (output += `${error}\n`));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const hasExited = () => child.pid === undefined || child.exitCode !== null || child.signalCode !== null;
  const close = async () => {
    if (!hasExited()) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  try {
    if (child.pid === undefined) throw new Error("docker-registry did not start");
    await waitUntilServing(url, hasExited, () => output);
  } catch (error) {
    await close();
    throw error;
  }
  return { url, host: `127.0.0.1:${port}`, pid: child.pid, close };
}
