/**
 * `npm run bench`: Pier (Node origin and edge Worker under workerd) side by side with
 * CNCF Distribution in one run — request throughput and cost, ~200 MB pull wall time,
 * SQL and Redis per pull, the pull-through proxy cache (bench/proxy-bench.ts) and
 * garbage collection (bench/gc-bench.ts), mirroring and replication (bench/mirror-bench.ts), the origin with one worker and with its default
 * workers, and the idle memory of npm start and the origin (bench/memory.ts) —
 * written to docs/benchmarks.md and printed.
 *
 * BENCH_DURATION_S, BENCH_PULL_RUNS and BENCH_OUTPUT shorten a trial run and send it elsewhere.
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { format, resolveConfig } from "prettier";
import { originEnvFor, startOriginProcess } from "../test/support/origin-process.js";
import { ensureServices, REDIS_URL } from "../test/support/services.js";
import { measureAccounting } from "./accounting.js";
import { Cleanup, Interrupted } from "./cleanup.js";
import { describeEnvironment } from "./environment.js";
import { imageBytes, pushBenchImages, writeBenchImages } from "./images.js";
import type { LoadSettings } from "./load.js";
import { startPeerRegistry } from "./peer.js";
import { NO_GC_TIMER, startPier } from "./pier.js";
import { runGcBenchmark } from "./gc-bench.js";
import { runMirrorBenchmark } from "./mirror-bench.js";
import { runFrontBenchmark } from "./front-bench.js";
import { runProxyBenchmarks } from "./proxy-bench.js";
import { timePulls, type PullTarget } from "./pulls.js";
import { renderReport } from "./report.js";
import { measureIdleMemory } from "./memory.js";
import { MANIFEST_BY_TAG, pullEndpoints, runRequestBenchmarks, SERVER, type Server } from "./requests.js";
import { createSkopeo } from "./skopeo.js";

const TOOLS: Record<string, string> = { wrk: "wrk", hey: "hey", skopeo: "skopeo", "docker-registry": "docker-registry" };

const settings: LoadSettings = { concurrency: 32, durationS: Number(process.env.BENCH_DURATION_S ?? 10), warmupS: 2, threads: 2 };
const pullRuns = Number(process.env.BENCH_PULL_RUNS ?? 5);
const output = process.env.BENCH_OUTPUT ?? "docs/benchmarks.md";
const started = performance.now();

const cleanup = new Cleanup();

/** Progress, and the points where an interrupted run stops instead of starting the next step. */
function log(line: string): void {
  cleanup.checkpoint();
  console.log(`[bench ${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}`);
}

function requireTools(): void {
  const missing = Object.keys(TOOLS).filter((tool) => {
    try {
      execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" });
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length > 0)
    throw new Error(`Missing ${missing.join(", ")}. Install with: apt-get install -y ${missing.map((t) => TOOLS[t]).join(" ")}`);
}

async function main(): Promise<void> {
  requireTools();
  await ensureServices();
  const environment = await describeEnvironment();
  const work = await mkdtemp(join(tmpdir(), "pier-bench-"));
  cleanup.add("work dir", () => rm(work, { recursive: true, force: true }));

  log("writing the images (OCI layout, streamed)");
  const images = await writeBenchImages(work);
  const skopeo = await createSkopeo(cleanup);
  const peer = await startPeerRegistry();
  cleanup.add("peer", () => peer.close());
  log(`peer on ${peer.url} (pid ${peer.pid}); starting Pier`);
  const pier = await startPier(cleanup);
  log(
    `Pier origin on ${pier.origin.url} (pid ${pier.origin.pid}); edge on ${pier.edge.url} (workerd pid ${pier.edge.pid}) and ${pier.httpsEdge.url}`,
  );

  const ns = pier.namespace;
  log("pushing with skopeo");
  const pierPush = await pushBenchImages(skopeo, images, pier.origin.host, ns, pier.pushCredentials);
  const peerPush = await pushBenchImages(skopeo, images, peer.host, ns);
  const pushes = [
    { server: `${SERVER.node} (S3 behind it)`, smallS: pierPush.small, bigS: pierPush.big },
    { server: SERVER.peer, smallS: peerPush.small, bigS: peerPush.big },
  ];

  const servers: Server[] = [
    { name: SERVER.peer, kind: "peer", url: peer.url, pid: peer.pid },
    { name: SERVER.node, kind: "pier", url: pier.origin.url, pid: pier.origin.pid },
    { name: SERVER.workerd, kind: "pier", url: pier.edge.url, pid: pier.edge.pid },
  ];
  const requests = await runRequestBenchmarks(
    servers,
    pullEndpoints(`${ns}/small`, images.small),
    settings,
    environment.machine.cores,
    log,
  );

  // The warm manifest GET once more on the origin as deployed by default (PIER_WORKERS unset: one worker per core), for
  // issue 12's comparison; started only for its row, so nothing else in the run shares the machine with its workers.
  const workers = availableParallelism();
  const originWorkers = await startOriginProcess({
    ...originEnvFor(pier.bindings, REDIS_URL),
    ...NO_GC_TIMER,
    PIER_WORKERS: String(workers),
  });
  try {
    const endpoints = pullEndpoints(`${ns}/small`, images.small).filter((endpoint) => endpoint.label === MANIFEST_BY_TAG);
    const server: Server = { name: SERVER.nodeWorkers, kind: "pier", url: originWorkers.url, pid: originWorkers.pid };
    requests.push(...(await runRequestBenchmarks([server], endpoints, settings, environment.machine.cores, log)));
  } finally {
    await originWorkers.close();
  }

  const front = await runFrontBenchmark(pier, peer, `${ns}/small`, images.small, settings, environment.machine.cores, log);

  const big = `${ns}/big:v1`;
  const targets: PullTarget[] = [
    { name: SERVER.peer, kind: "peer", source: `docker://${peer.host}/${big}`, note: "HTTP" },
    { name: SERVER.node, kind: "pier", source: `docker://${pier.origin.host}/${big}`, note: "HTTP; blobs from S3 over HTTP" },
    {
      name: SERVER.workerd,
      kind: "pier",
      source: `docker://${pier.httpsEdge.host}/${big}`,
      note: "HTTPS (self-signed); blobs from S3 over HTTP",
    },
  ];
  const pulls = await timePulls(skopeo, targets, pullRuns, log);

  const proxy = await runProxyBenchmarks({ cleanup, skopeo, peer, pier, pullRuns, bigImageBytes: imageBytes(images.big), log });

  log("counting SQL statements and Redis round trips per pull");
  const accounting = await measureAccounting(
    pier.bindings,
    { repository: `${ns}/small`, image: images.small },
    proxy.cached && { cached: proxy.cached, pushed: { repository: `${ns}/big`, image: images.big } },
  );

  const gc = await runGcBenchmark(pier, `/v2/${ns}/small/manifests/v1`, settings, environment.machine.cores, log);

  const mirror = await runMirrorBenchmark(log);

  log("idle memory of npm start and of the origin");
  const memory = await measureIdleMemory(pier.bindings, environment.machine.cores, log);

  const report = renderReport({
    memory,
    workers,
    environment,
    settings,
    pushes,
    requests,
    pulls,
    bigImageBytes: imageBytes(images.big),
    accounting,
    proxy: proxy.results,
    gc,
    mirror,
    front,
    runSeconds: (performance.now() - started) / 1000,
  });
  // Aligned tables read better in a terminal too; and `npm run format` leaves the file as it is.
  const markdown = await format(report, { ...(await resolveConfig(output)), parser: "markdown" });
  await writeFile(output, markdown);
  console.log(`\n${markdown}`);
  log(`written to ${output}`);
}

cleanup.onSignals();
try {
  await main();
} catch (error) {
  if (!(error instanceof Interrupted)) console.error("bench failed:", error);
  process.exitCode = 1;
} finally {
  await cleanup.runAll();
}
