/**
 * docs/benchmarks.md from one run's measurements: the setting, one Markdown table per
 * section with the Pier/peer ratio, issue 6's targets marked met or missed, and the
 * proxy-cache section (bench/report-proxy.ts) with issue 10's.
 */
import { frontSection } from "./front-bench.js";
import { CACHED_PREFIX, MANIFEST_PULL, PUSHED_PREFIX, type AccountingRow, type Scenario } from "./accounting.js";
import type { GcResults } from "./gc-bench.js";
import type { IdleMemoryRow } from "./memory.js";
import { renderGcSection } from "./report-gc.js";
import type { MirrorResults } from "./mirror-bench.js";
import { renderMirrorSection } from "./report-mirror.js";
import type { Environment } from "./environment.js";
import type { LoadResult, LoadSettings } from "./load.js";
import type { PullRow } from "./pulls.js";
import { renderProxySection, type ProxyResults } from "./report-proxy.js";
import { accountingTable, fixed, ratio, table } from "./report-table.js";
import { MANIFEST_BY_TAG, SERVER, type RequestRow } from "./requests.js";

export interface BenchResults {
  environment: Environment;
  settings: LoadSettings;
  pushes: { server: string; smallS: number; bigS: number }[];
  requests: RequestRow[];
  pulls: PullRow[];
  bigImageBytes: number;
  accounting: AccountingRow[];
  proxy: ProxyResults;
  gc: GcResults;
  mirror: MirrorResults[];
  /** The strangler front's rows (bench/front-bench.ts). */
  front: RequestRow[];
  /** Idle RSS of npm start and the origin. */
  memory: IdleMemoryRow[];
  /** How many workers the default origin ran (PIER_WORKERS unset: one per core). */
  workers: number;
  runSeconds: number;
}

const MiB = 1024 * 1024;

function requestTable(rows: readonly RequestRow[]): string {
  const peerOf = (row: RequestRow) => rows.find((r) => r.endpoint === row.endpoint && r.server.kind === "peer")?.result;
  const body = rows.map((row) => {
    const r = row.result;
    const peer = peerOf(row);
    const isPier = row.server.kind === "pier";
    const notes = [
      row.problem && `warm-up: ${row.problem}`,
      row.error && `failed: ${row.error.split("\n")[0]}`,
      r && r.unexpected > 0 && `${r.unexpected} unexpected: ${r.details.join(", ")}`,
    ]
      .filter(Boolean)
      .join("; ");
    return [
      row.endpoint.label,
      row.server.name,
      String(row.status),
      r?.tool ?? "—",
      r ? fixed(r.rps, 0) : "—",
      r ? fixed(r.p50Ms, 2) : "—",
      r ? fixed(r.p99Ms, 2) : "—",
      r ? fixed(r.serverCpuMsPerRequest, 3) : "—",
      r ? fixed(r.peakRssBytes / MiB, 1) : "—",
      isPier && r && peer ? ratio(r.rps / peer.rps) : "",
      isPier && r && peer ? ratio(r.serverCpuMsPerRequest / peer.serverCpuMsPerRequest) : "",
      r ? [r.serverCpuPercent, r.toolCpuPercent, r.benchCpuPercent, r.otherCpuPercent].map((p) => fixed(p, 0)).join(" · ") : "—",
      notes || "ok",
    ];
  });
  const head = ["endpoint", "server", "status", "tool", "req/s", "p50 ms", "p99 ms", "CPU ms/req", "peak RSS MiB"];
  return table([...head, "req/s Pier/peer", "CPU/req Pier/peer", "CPU % server · tool · bench · other", "check"], body);
}

function pullTable(rows: readonly PullRow[], bytes: number): string {
  const peer = rows.find((r) => r.target.kind === "peer");
  return table(
    ["server", "transport", "runs (s)", "median s", "MB/s", "time Pier/peer"],
    rows.map((row) => [
      row.target.name,
      row.target.note,
      row.error ? `failed: ${row.error.split("\n")[0]}` : row.timesMs.map((ms) => fixed(ms / 1000, 2)).join(", "),
      fixed(row.medianMs / 1000, 2),
      fixed(bytes / 1e6 / (row.medianMs / 1000), 0),
      row.target.kind === "pier" && peer ? ratio(row.medianMs / peer.medianMs) : "",
    ]),
  );
}

interface Target {
  target: string;
  measured: string;
  met: boolean;
}

/** A measurement a target can be judged on, or why there is none (every target is listed either way). */
/**
 * A measurement a target is judged on: its value, and what was wrong with the responses
 * it came from (which fails the target whatever the numbers say); or why there is none.
 */
type Judged<T> = { value: T; wrong?: string } | { missing: string };

function manifestRow(results: BenchResults, server: string): Judged<LoadResult> {
  const row = results.requests.find((r) => r.endpoint.label === MANIFEST_BY_TAG && r.server.name === server);
  if (!row?.result) return { missing: `${server}: not measured (${row?.error?.split("\n")[0] ?? "no row"})` };
  if (row.problem !== null || row.result.unexpected > 0) {
    return { value: row.result, wrong: `${server} answered wrongly: ${row.problem ?? row.result.details.join(", ")}` };
  }
  return { value: row.result };
}

function judge<T>(target: string, inputs: Judged<T>[], measure: (values: T[]) => { measured: string; met: boolean }): Target {
  const missing = inputs.flatMap((i) => ("missing" in i ? [i.missing] : []));
  if (missing.length > 0) return { target, measured: missing.join("; "), met: false };
  const present = inputs as { value: T; wrong?: string }[];
  const { measured, met } = measure(present.map((i) => i.value));
  const wrong = present.flatMap((i) => (i.wrong ? [i.wrong] : []));
  return wrong.length > 0 ? { target, measured: `${measured}, but ${wrong.join("; ")}`, met: false } : { target, measured, met };
}

function targets(results: BenchResults): Target[] {
  const peer = manifestRow(results, SERVER.peer);
  const vs = (a: number, b: number, unit: string, digits: number) => `${fixed(a, digits)} vs ${fixed(b, digits)} ${unit} (${ratio(a / b)})`;
  const accounting = (scenario: Scenario): Judged<AccountingRow> => {
    const row = results.accounting.find((a) => a.pull === MANIFEST_PULL && a.scenario === scenario);
    if (!row) return { missing: `${scenario}: not measured` };
    return row.failures.length > 0 ? { missing: `${scenario}: ${row.failures.join("; ")}` } : { value: row };
  };
  const peerPull = results.pulls.find((p) => p.target.kind === "peer");
  const pullOf = (row: PullRow | undefined): Judged<number> =>
    row && row.error === null
      ? { value: row.medianMs / 1000 }
      : { missing: `${row?.target.name ?? "peer"}: ${row?.error?.split("\n")[0] ?? "not measured"}` };
  return [
    judge("Node: warm manifest GET by tag ≥ 3× the peer's req/s", [manifestRow(results, SERVER.node), peer], ([node, p]) => ({
      measured: vs(node!.rps, p!.rps, "req/s", 0),
      met: node!.rps >= 3 * p!.rps,
    })),
    judge("Node: warm manifest GET by tag ≤ 1/3 of the peer's CPU ms/request", [manifestRow(results, SERVER.node), peer], ([node, p]) => ({
      measured: vs(node!.serverCpuMsPerRequest, p!.serverCpuMsPerRequest, "CPU ms/req", 3),
      met: node!.serverCpuMsPerRequest * 3 <= p!.serverCpuMsPerRequest,
    })),
    judge("workerd: warm manifest GET by tag ≥ the peer's req/s", [manifestRow(results, SERVER.workerd), peer], ([edge, p]) => ({
      measured: vs(edge!.rps, p!.rps, "req/s", 0),
      met: edge!.rps >= p!.rps,
    })),
    judge(
      "Warm manifest pull: 0 SQL statements and ≤ 1 Redis round trip",
      [accounting("warm (Redis)"), accounting("warm (isolate)")],
      (rows) => ({
        measured: rows.map((a) => `${a.scenario}: ${a.sql} SQL, ${a.redis} Redis`).join("; "),
        met: rows.every((a) => a.sql === 0 && a.redis <= 1),
      }),
    ),
    judge("Cold manifest pull: ≤ 1 SQL statement", [accounting("cold")], ([cold]) => ({
      measured: `${cold!.sql} SQL, ${cold!.redis} Redis`,
      met: cold!.sql <= 1,
    })),
    ...results.pulls
      .filter((p) => p.target.kind === "pier")
      .map((pull) =>
        judge(`~200 MB pull within 10 % of the peer's time (${pull.target.name})`, [pullOf(pull), pullOf(peerPull)], ([pier, p]) => ({
          measured: vs(pier!, p!, "s", 2),
          met: pier! <= 1.1 * p!,
        })),
      ),
  ];
}

/** Issue 12: the origin on every core (req/s and CPU per request against the peer's), and idle memory. */
function machineSection(results: BenchResults): string {
  const peer = manifestRow(results, SERVER.peer);
  const rows = [SERVER.node, SERVER.nodeWorkers].map((server) => {
    const row = manifestRow(results, server);
    if ("missing" in row || "missing" in peer) return [server, "—", "—", "—", "—", "missing" in row ? row.missing : "no peer row"];
    const r = row.value;
    const p = peer.value;
    return [
      server === SERVER.node ? `${server} (PIER_WORKERS=1)` : `${server} (${results.workers})`,
      fixed(r.rps, 0),
      fixed(r.serverCpuMsPerRequest, 3),
      ratio(r.rps / p.rps),
      ratio(r.serverCpuMsPerRequest / p.serverCpuMsPerRequest),
      row.wrong ?? "ok",
    ];
  });
  const workers = manifestRow(results, SERVER.nodeWorkers);
  const judged = [
    judge("Default workers: warm manifest GET by tag ≥ 10× the peer's req/s", [workers, peer], ([w, p]) => ({
      measured: `${fixed(w!.rps, 0)} vs ${fixed(p!.rps, 0)} req/s (${ratio(w!.rps / p!.rps)})`,
      met: w!.rps >= 10 * p!.rps,
    })),
    judge("Default workers: warm manifest GET by tag ≤ 1/10 of the peer's CPU ms/request", [workers, peer], ([w, p]) => ({
      measured: `${fixed(w!.serverCpuMsPerRequest, 3)} vs ${fixed(p!.serverCpuMsPerRequest, 3)} CPU ms/req (${ratio(w!.serverCpuMsPerRequest / p!.serverCpuMsPerRequest)})`,
      met: w!.serverCpuMsPerRequest * 10 <= p!.serverCpuMsPerRequest,
    })),
    ...results.memory.map((m): Target => {
      const perProcess = m.processes > 0 ? m.rssBytes / m.processes : 0;
      return m.error
        ? {
            target: `Idle RSS, ${m.runtime}: < ${fixed(m.targetBytes / 1e6, 0)} MB per process`,
            measured: `failed: ${m.error}`,
            met: false,
          }
        : {
            target: `Idle RSS, ${m.runtime}: < ${fixed(m.targetBytes / 1e6, 0)} MB per process`,
            measured: `${fixed(m.rssBytes / 1e6, 0)} MB in ${m.processes} process(es)${m.processes > 1 ? `, ${fixed(perProcess / 1e6, 0)} MB each` : ""}`,
            met: perProcess < m.targetBytes,
          };
    }),
  ];
  return [
    "## The whole machine and memory (issue 12)",
    "",
    `Warm manifest GET by tag (the Requests row's settings) on the origin with one worker and with its default, one worker per core (${results.workers} here,`,
    "behind node:cluster's primary, whose CPU counts too). The load tool runs on the same cores: on a 2-core machine the workers share them with it.",
    "Idle RSS: VmRSS of the process and its descendants 5 s after it said it was ready, before any request (bench/memory.ts); `npm start` as a user runs it,",
    "on a new data directory (initdb and every migration) and again on the same one.",
    "",
    table(["server", "req/s", "CPU ms/req", "req/s Pier/peer", "CPU/req Pier/peer", "check"], rows),
    "",
    table(
      ["target", "measured", "result"],
      judged.map((t) => [t.target, t.measured, t.met ? "met" : "**missed**"]),
    ),
  ].join("\n");
}

function setting(results: BenchResults): string {
  const { machine, versions, date } = results.environment;
  const s = results.settings;
  return [
    `Generated by \`npm run bench\` (bench/run.ts) on ${date}; the whole run took ${fixed(results.runSeconds / 60, 1)} min.`,
    "",
    `**Machine:** ${machine.cpuModel}, ${machine.cores} cores, ${fixed(machine.memTotalBytes / 1024 ** 3, 1)} GiB RAM, Linux ${machine.kernel}; load average at start ${machine.loadAverage}.`,
    "The machine is shared: other work running at the same time shows in the `other` CPU share of each row.",
    "",
    `**Versions:** ${Object.entries(versions)
      .map(([name, version]) => `${name} ${version}`)
      .join("; ")}.`,
    "",
    `**Load:** wrk for GET rows (\`-t ${s.threads} -c ${s.concurrency} -d ${s.durationS}s --latency\`; it never follows redirects), hey for HEAD rows`,
    `(\`-c ${s.concurrency} -z ${s.durationS}s -m HEAD -disable-compression -disable-redirects\`): wrk 4.1 waits for a body after a HEAD response that has`,
    `Content-Length and so never completes one. Every row: one request first (warms the caches; its status is the \`status\` column and it is checked`,
    `for the manifest digest, blob length or redirect), then a ${s.warmupS} s unmeasured run, then the measured run. Anonymous requests on both servers:`,
    "Pier serves the public repository without Authorization (its anonymous `GET /v2/` is the 401 bearer challenge), the peer has no auth.",
    "",
    "**CPU and memory:** CPU ms/request is the server's utime+stime delta in /proc/<pid>/stat over the measured run (with its descendants and reaped",
    "children) ÷ requests. Servers: the Node origin process (workers/origin.ts as test/support/origin-process.ts starts it); the workerd process Miniflare spawned (the bundled",
    "workers/edge.ts, one isolate); the peer's `docker-registry` process. PostgreSQL and Redis are not counted for anyone; the edge's local stand-ins",
    "for Neon, Upstash and S3 and the Miniflare host run in the benchmark process (the `bench` share). Peak RSS is VmHWM after the row (the process's",
    "peak so far). The load tool runs on the same cores as the server (the `tool` share).",
  ].join("\n");
}

/** Every row whose responses were not all what a pull gets, in plain words (the misses must not hide in a wide table). */
function failures(results: BenchResults): string {
  const lines = results.requests.flatMap((row) => {
    const what = [
      row.problem && `the warm-up request got ${row.problem}`,
      row.error && `the load run failed: ${row.error.split("\n")[0]}`,
      row.result &&
        row.result.unexpected > 0 &&
        `${row.result.details.join(", ")} (the tool counted ${row.result.requests} responses in all)`,
    ].filter(Boolean);
    return what.length > 0 ? [`- ${row.server.name}, ${row.endpoint.label}: ${what.join("; ")}.`] : [];
  });
  for (const pull of results.pulls) if (pull.error) lines.push(`- ${pull.target.name}, ~200 MB pull: ${pull.error.split("\n")[0]}`);
  for (const row of results.accounting)
    if (row.failures.length > 0) lines.push(`- accounting, ${row.pull} (${row.scenario}): ${row.failures.join("; ")}`);
  return lines.length > 0 ? lines.join("\n") : "None: every response had the expected status and headers.";
}

export function renderReport(results: BenchResults): string {
  const s = results.settings;
  const list = targets(results);
  const pushRows = results.pushes.map((p) => [p.server, fixed(p.smallS, 2), fixed(p.bigS, 2)]);
  return [
    "# Benchmarks: Pier and CNCF Distribution",
    "",
    setting(results),
    "",
    "## Targets (issue 6)",
    "",
    table(
      ["target", "measured", "result"],
      list.map((t) => [t.target, t.measured, t.met ? "met" : "**missed**"]),
    ),
    "",
    "## Failures under load",
    "",
    failures(results),
    "",
    `## Requests (small image, ${s.concurrency} connections, ${s.durationS} s per row)`,
    "",
    "Blob GET: Pier answers 302 to a presigned S3 URL (not followed); the peer, on filesystem storage, sends the bytes.",
    "",
    requestTable(results.requests),
    "",
    `## Pulling the ~${fixed(results.bigImageBytes / 1e6, 0)} MB image (skopeo copy docker://… dir:…, median of ${results.pulls[0]?.timesMs.length ?? 0})`,
    "",
    "Pier's blob GETs redirect to the local verifying S3 server (a Node process reading files); the peer sends blob bytes itself.",
    "",
    pullTable(results.pulls, results.bigImageBytes),
    "",
    "## Per-pull accounting (Node origin, in process)",
    "",
    "createApp() built as workers/origin.ts builds it (node-postgres, ioredis, S3), with counting wrappers around the Sql and Cache ports.",
    "Cold: a fresh app after the repository's generation was bumped. Warm (Redis): a fresh app (empty isolate cache), Redis filled.",
    "Warm (isolate): the same requests again on the same app.",
    "",
    accountingTable(results.accounting.filter((row) => !row.pull.startsWith(CACHED_PREFIX) && !row.pull.startsWith(PUSHED_PREFIX))),
    "",
    renderProxySection(results.proxy, results.accounting, results.pulls),
    renderGcSection(results.gc),
    "",
    renderMirrorSection(results.mirror, results.environment.versions.Pier ?? "unknown"),
    "",
    machineSection(results),
    frontSection(results.front),
    "",
    "## Pushes (setup, for information)",
    "",
    table(["server", "small image s", "~200 MB image s"], pushRows),
    "",
  ].join("\n");
}
