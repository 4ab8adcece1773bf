/**
 * The strangler front's cost (issue 14): the warm manifest GET by tag against the peer
 * directly and through an origin whose front sends everything to it (the peer plays the
 * legacy Quay), and against the plain origin and an origin whose front routes the
 * repository's reads to Pier. The four take turns in one run, so drift hits them alike.
 */
import type { LayoutImage } from "../test/support/oci-layout.js";
import { originEnvFor, startOriginProcess } from "../test/support/origin-process.js";
import { REDIS_URL } from "../test/support/services.js";
import type { LoadResult, LoadSettings } from "./load.js";
import type { PeerRegistry } from "./peer.js";
import { NO_GC_TIMER, type PierSetup } from "./pier.js";
import { fixed, ratio, table } from "./report-table.js";
import { MANIFEST_BY_TAG, pullEndpoints, runRequestBenchmarks, SERVER, type RequestRow, type Server } from "./requests.js";

const FRONT = {
  toLegacy: "Pier front → CNCF Distribution",
  pierRouted: "Pier front, routed to Pier",
} as const;

export async function runFrontBenchmark(
  pier: PierSetup,
  peer: PeerRegistry,
  repository: string,
  image: LayoutImage,
  settings: LoadSettings,
  cores: number,
  log: (line: string) => void,
): Promise<RequestRow[]> {
  const base = { ...originEnvFor(pier.bindings, REDIS_URL), ...NO_GC_TIMER, PIER_WORKERS: "1", PIER_LEGACY_URL: peer.url };
  const toLegacy = await startOriginProcess(base);
  const namespace = repository.split("/")[0]!;
  const pierRouted = await startOriginProcess({
    ...base,
    PIER_FRONT_RULES: JSON.stringify({ rules: [{ id: "bench-reads", families: ["v2-read"], namespaces: [namespace], target: "pier" }] }),
  });
  try {
    const servers: Server[] = [
      { name: SERVER.peer, kind: "peer", url: peer.url, pid: peer.pid },
      { name: FRONT.toLegacy, kind: "peer", url: toLegacy.url, pid: toLegacy.pid },
      { name: SERVER.node, kind: "pier", url: pier.origin.url, pid: pier.origin.pid },
      { name: FRONT.pierRouted, kind: "pier", url: pierRouted.url, pid: pierRouted.pid },
    ];
    const endpoints = pullEndpoints(repository, image).filter((endpoint) => endpoint.label === MANIFEST_BY_TAG);
    log("the strangler front: manifest GET direct and through the front");
    return await runRequestBenchmarks(servers, endpoints, settings, cores, log);
  } finally {
    await Promise.all([toLegacy.close(), pierRouted.close()]);
  }
}

/** The report's section: the four rows, and the front's added latency and CPU. */
export function frontSection(rows: readonly RequestRow[]): string {
  const result = (name: string): LoadResult | null => rows.find((row) => row.server.name === name)?.result ?? null;
  const body = rows.map((row) => {
    const r = row.result;
    const wrong = row.problem ?? (r && r.unexpected > 0 ? r.details.join(", ") : null) ?? row.error;
    return [
      row.server.name,
      r ? fixed(r.rps, 0) : "—",
      r ? fixed(r.p50Ms, 2) : "—",
      r ? fixed(r.p99Ms, 2) : "—",
      r ? fixed(r.serverCpuMsPerRequest, 3) : "—",
      wrong ?? "ok",
    ];
  });
  const [peer, toLegacy, node, routed] = [SERVER.peer, FRONT.toLegacy, SERVER.node, FRONT.pierRouted].map(result);
  const lines: string[] = [];
  if (peer && toLegacy) {
    lines.push(
      `Through the front, a request to legacy takes ${fixed(toLegacy.p50Ms - peer.p50Ms, 2)} ms more at the median (p50 ${fixed(toLegacy.p50Ms, 2)} vs ${fixed(peer.p50Ms, 2)} ms, ` +
        `p99 ${fixed(toLegacy.p99Ms, 2)} vs ${fixed(peer.p99Ms, 2)} ms) and costs the front ${fixed(toLegacy.serverCpuMsPerRequest, 3)} CPU ms; ` +
        `throughput ${ratio(toLegacy.rps / peer.rps)} of legacy direct (the front shares the cores with legacy and the load tool).`,
    );
  }
  if (node && routed) {
    const change = routed.rps / node.rps - 1;
    lines.push(
      `A request the front routes to Pier: ${fixed(routed.rps, 0)} vs ${fixed(node.rps, 0)} req/s without a front (${change >= 0 ? "+" : ""}${fixed(change * 100, 1)} %), ` +
        `${fixed(routed.serverCpuMsPerRequest, 3)} vs ${fixed(node.serverCpuMsPerRequest, 3)} CPU ms/request; ` +
        `${Math.abs(change) <= 0.1 ? "within" : "**outside**"} ±10 % (the noise between runs of one server here).`,
    );
  }
  return [
    "## The strangler front (issue 14)",
    "",
    "Warm manifest GET by tag (the Requests row's settings) against CNCF Distribution directly and through an origin (one worker) whose",
    "front sends everything to it, as legacy; and against the plain origin and one whose front routes this repository's reads to Pier.",
    "The four take turns in one pass. CPU is the named server's own (the front's, not legacy's behind it).",
    "",
    table(["server", "req/s", "p50 ms", "p99 ms", "CPU ms/req", "check"], body),
    "",
    ...lines.flatMap((line) => [line, ""]),
  ].join("\n");
}
