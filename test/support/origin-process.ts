/**
 * The origin as `npm run origin` runs it — workers/origin.ts bundled, on plain Node —
 * as a child process, for end-to-end tests that need the real origin over a real
 * socket, and its memory as the kernel counts it.
 */
import { readFile, rm } from "node:fs/promises";
import { bundleOrigin } from "../../scripts/bundle.js";
import { freePort, startEdgeServer, type EdgeServer, type EdgeServerOptions } from "./edge-server.js";
import type { EdgeBindings } from "./gateways.js";
import { spawnEntry } from "./process.js";
import type { OriginFixture } from "./origin-registry.js";
import { REDIS_URL } from "./services.js";

export interface OriginProcess {
  /** `http://127.0.0.1:PORT` (`https://` with PIER_TLS_CERT_FILE). */
  url: string;
  pid: number;
  /** Peak resident set size so far (`VmHWM` in /proc/<pid>/status), in bytes. */
  peakRssBytes(): Promise<number>;
  /** Current resident set size (`VmRSS`), in bytes. */
  rssBytes(): Promise<number>;
  /** Everything the origin printed so far. */
  output(): string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  /** SIGTERM (the origin's orderly shutdown), SIGKILL if it lingers. */
  close(): Promise<void>;
}

const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

async function statusField(pid: number, field: "VmHWM" | "VmRSS"): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(status);
  if (!match) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

/**
 * The Node flags `npm run origin` starts the bundle with (package.json), so the tests
 * and the benchmarks measure the origin as it is deployed (e.g. its young-generation
 * size, which bounds the garbage a streamed push leaves between scavenges).
 */
export async function originNodeFlags(): Promise<string[]> {
  const { scripts } = JSON.parse(await readFile("package.json", "utf8")) as { scripts: Record<string, string> };
  const match = /&& (?:exec )?node ((?:--\S+ )*)dist\/origin\.mjs$/.exec(scripts.origin ?? "");
  if (!match) throw new Error(`package.json's origin script does not end in "node [flags] dist/origin.mjs": ${scripts.origin}`);
  return match[1]!.trim().split(" ").filter(Boolean);
}

/**
 * Starts the origin on 127.0.0.1 (`PORT` from `env`, else an ephemeral one; one worker
 * unless `env` sets PIER_WORKERS; everything else comes from `env` too) and resolves once it listens.
 */
export async function startOriginProcess(env: Record<string, string>): Promise<OriginProcess> {
  // Inside the project, so the bundle's bare imports resolve from node_modules.
  const bundle = await bundleOrigin(`dist/test-origin-${process.pid}-${crypto.randomUUID()}.mjs`);
  // One worker unless asked: tests that read the process's memory read the process that serves.
  const spawned = spawnEntry(bundle, { PORT: "0", PIER_WORKERS: "1", ...env, PIER_HOST: "127.0.0.1" }, [], {
    plain: true,
    nodeFlags: await originNodeFlags(),
  });
  const pid = spawned.child.pid;
  let match: RegExpMatchArray;
  try {
    if (pid === undefined) throw new Error("the origin process did not start");
    match = await spawned.waitFor(/Pier origin listening on port (\d+)/, START_TIMEOUT_MS);
  } catch (error) {
    spawned.child.kill("SIGKILL");
    await rm(bundle, { force: true });
    throw error;
  }
  return {
    url: `${env.PIER_TLS_CERT_FILE ? "https" : "http"}://127.0.0.1:${match[1]}`,
    pid: pid!,
    peakRssBytes: () => statusField(pid!, "VmHWM"),
    rssBytes: () => statusField(pid!, "VmRSS"),
    output: spawned.output,
    exited: spawned.exited,
    async close() {
      if (spawned.child.exitCode === null && spawned.child.signalCode === null) {
        spawned.child.kill("SIGTERM");
        const timer = setTimeout(() => spawned.child.kill("SIGKILL"), STOP_TIMEOUT_MS);
        await spawned.exited;
        clearTimeout(timer);
      }
      await rm(bundle, { force: true });
    },
  };
}

/** The origin's environment for the local stack: its database, Redis and S3, already migrated. */
export function originEnvFor(bindings: EdgeBindings, redisUrl: string): Record<string, string> {
  const { DATABASE_URL, S3_ENDPOINT, S3_BUCKET, S3_REGION, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY } = bindings;
  return {
    DATABASE_URL,
    REDIS_URL: redisUrl,
    S3_ENDPOINT,
    S3_BUCKET,
    S3_REGION,
    S3_ACCESS_KEY_ID,
    S3_SECRET_ACCESS_KEY,
    PIER_MIGRATE_ON_START: "false",
  };
}

export interface EdgeWithOrigin {
  edge: EdgeServer;
  origin: OriginProcess;
  /** `127.0.0.1:PORT` of the edge: the token audience and public host of both. */
  edgeHost: string;
}

/**
 * The edge Worker (HTTPS) in front of an origin process, on one database: each names
 * the other at start (the edge's host is both runtimes' token audience and public
 * host; the origin's URL is where uploads go), so both ports are chosen first.
 */
export async function startEdgeWithOrigin(
  bindings: EdgeBindings,
  extra: {
    origin?: Record<string, string>;
    edge?: Record<string, string>;
    /** Miniflare options of the edge beyond its variables (service bindings, outbound service, plain HTTP). */
    edgeServer?: Pick<EdgeServerOptions, "https" | "serviceBindings" | "outboundService">;
  } = {},
): Promise<EdgeWithOrigin> {
  const [edgePort, originPort] = [await freePort(), await freePort()];
  const edgeHost = `127.0.0.1:${edgePort}`;
  const originScheme = extra.origin?.PIER_TLS_CERT_FILE ? "https" : "http";
  const shared = { PIER_SERVER_HOSTNAME: edgeHost, PIER_ORIGIN_URL: `${originScheme}://127.0.0.1:${originPort}` };
  const origin = await startOriginProcess({
    ...originEnvFor(bindings, REDIS_URL),
    ...shared,
    PORT: String(originPort),
    PIER_URL_SCHEME: "https",
    ...extra.origin,
  });
  try {
    const edge = await startEdgeServer({ ...extra.edgeServer, port: edgePort, bindings: { ...bindings, ...shared, ...extra.edge } });
    return { edge, origin, edgeHost };
  } catch (error) {
    await origin.close();
    throw error;
  }
}

/** An origin process's settings for an OriginFixture's database, cache prefix and S3 bucket (the fixture migrated already). */
export function originEnvOfFixture(fixture: Pick<OriginFixture, "databaseUrl" | "cachePrefix" | "s3">): Record<string, string> {
  const { s3 } = fixture;
  return {
    DATABASE_URL: fixture.databaseUrl,
    REDIS_URL,
    PIER_REDIS_PREFIX: fixture.cachePrefix,
    S3_ENDPOINT: s3.endpoint,
    S3_BUCKET: s3.bucket,
    S3_REGION: s3.region,
    S3_ACCESS_KEY_ID: s3.accessKeyId,
    S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
    PIER_MIGRATE_ON_START: "false",
  };
}
