/**
 * One load run at fixed concurrency and duration, with what the server spent on it:
 * wrk for GET (it does not follow redirects), hey for HEAD (wrk 4.1 waits for a body
 * after a HEAD response that carries Content-Length, so it never completes one).
 * CPU comes from /proc over the measured run only; the warm-up run is not counted.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { CLOCK_TICKS_PER_SECOND, machineBusyTicks, parseStat, peakRssBytes, treeCpuTicks } from "./proc.js";

const run = promisify(execFile);

export interface LoadSettings {
  concurrency: number;
  durationS: number;
  warmupS: number;
  /** wrk threads (one per core). */
  threads: number;
}

export interface LoadRequest {
  method: "GET" | "HEAD";
  url: string;
  headers: Record<string, string>;
  /** The status every response must have. */
  expectStatus: number;
}

export interface LoadResult {
  tool: "wrk" | "hey";
  requests: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Responses with another status class (wrk) or status (hey) than expected, plus socket errors. */
  unexpected: number;
  details: string[];
  serverCpuMsPerRequest: number;
  /**
   * Shares of all cores over the run: the server, the load tool, this benchmark process
   * (which hosts Miniflare and the edge's Neon/Upstash/S3 stand-ins), everything else.
   */
  serverCpuPercent: number;
  toolCpuPercent: number;
  benchCpuPercent: number;
  otherCpuPercent: number;
  /** VmHWM of the server process after the run (its peak so far). */
  peakRssBytes: number;
}

interface ToolOutput {
  requests: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  unexpected: number;
  /** What the unexpected responses were, as far as the tool tells. */
  details: string[];
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function wrkDuration(text: string): number {
  const match = /^([\d.]+)(us|ms|s|m)$/.exec(text);
  if (!match) throw new Error(`unreadable wrk duration "${text}"`);
  return Number(match[1]) * UNIT_MS[match[2]!]!;
}

function parseWrk(out: string, expectStatus: number): ToolOutput {
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  // wrk counts statuses > 399 only; a row that expects one wants all of them.
  const over399 = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const wrong = expectStatus > 399 ? requests - over399 : over399;
  const details = [
    ...(errors > 0 ? [`socket errors: ${socket![0].slice("Socket errors: ".length)}`] : []),
    ...(wrong > 0 ? [`${wrong} responses with status ${expectStatus > 399 ? "< 400" : "≥ 400"}`] : []),
  ];
  return {
    requests,
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]),
    // wrk pads values shorter than its column ("1.14s ").
    p50Ms: wrkDuration(/^\s+50%\s+(\S+)\s*$/m.exec(out)?.[1] ?? ""),
    p99Ms: wrkDuration(/^\s+99%\s+(\S+)\s*$/m.exec(out)?.[1] ?? ""),
    unexpected: errors + wrong,
    details,
  };
}

function parseHey(out: string, expectStatus: number): ToolOutput {
  const [head, errorSection = ""] = out.split("Error distribution:");
  const statuses = [...head!.matchAll(/^\s+\[(\d+)\]\s+(\d+) responses$/gm)].map((m) => ({ status: Number(m[1]), count: Number(m[2]) }));
  // `  [32]	Get "http://…": context deadline exceeded (…)`: the count and what went wrong, without the URL.
  const errors = [...errorSection.matchAll(/^\s+\[(\d+)\]\s+\S+ "[^"]*": (.*)$/gm)].map((m) => ({ count: Number(m[1]), message: m[2]! }));
  const wrong = statuses.filter((s) => s.status !== expectStatus);
  const requests = statuses.reduce((sum, s) => sum + s.count, 0);
  const seconds = (line: string) => Number(new RegExp(`^\\s+${line}% in ([\\d.]+) secs$`, "m").exec(out)?.[1]) * 1000;
  return {
    requests,
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]),
    p50Ms: seconds("50"),
    p99Ms: seconds("99"),
    unexpected: [...errors, ...wrong].reduce((sum, e) => sum + e.count, 0),
    details: [...wrong.map((w) => `${w.count} × status ${w.status}`), ...errors.map((e) => `${e.count} × ${e.message}`)],
  };
}

function toolArgs(request: LoadRequest, settings: LoadSettings, seconds: number): { tool: "wrk" | "hey"; args: string[] } {
  const headers = Object.entries(request.headers).flatMap(([name, value]) => ["-H", `${name}: ${value}`]);
  if (request.method === "GET") {
    return {
      tool: "wrk",
      args: ["-t", String(settings.threads), "-c", String(settings.concurrency), "-d", `${seconds}s`, "--latency", ...headers, request.url],
    };
  }
  const flags = [
    "-c",
    String(settings.concurrency),
    "-z",
    `${seconds}s`,
    "-m",
    request.method,
    "-disable-compression",
    "-disable-redirects",
  ];
  return { tool: "hey", args: [...flags, ...headers, request.url] };
}

/** Runs the tool under `sh`, which reports the CPU ticks of the child it reaped (cutime + cstime). */
async function runTool(tool: string, args: readonly string[]): Promise<{ out: string; ticks: number }> {
  const script = `"$@"; rc=$?; read -r stat < /proc/$$/stat; echo "BENCH-STAT $stat"; exit $rc`;
  const { stdout } = await run("sh", ["-c", script, "sh", tool, ...args], { maxBuffer: 16 << 20 });
  const stat = /^BENCH-STAT (.+)$/m.exec(stdout)?.[1];
  if (!stat) throw new Error(`${tool} printed no stat line:\n${stdout}`);
  return { out: stdout, ticks: parseStat(stat).ticks };
}

/** Warm-up run, then the measured run against the server whose process tree is `pid`. */
export async function measureLoad(pid: number, request: LoadRequest, settings: LoadSettings, cores: number): Promise<LoadResult> {
  const warmup = toolArgs(request, settings, settings.warmupS);
  await runTool(warmup.tool, warmup.args);
  const { tool, args } = toolArgs(request, settings, settings.durationS);
  const [serverBefore, busyBefore] = [await treeCpuTicks(pid), await machineBusyTicks()];
  const benchBefore = process.cpuUsage();
  const started = performance.now();
  const { out, ticks: toolTicks } = await runTool(tool, args);
  const elapsedS = (performance.now() - started) / 1000;
  const bench = process.cpuUsage(benchBefore);
  const [serverAfter, busyAfter] = [await treeCpuTicks(pid), await machineBusyTicks()];
  const parsed = (() => {
    try {
      return tool === "wrk" ? parseWrk(out, request.expectStatus) : parseHey(out, request.expectStatus);
    } catch (error) {
      throw new Error(`${tool} ${args.join(" ")}: ${error instanceof Error ? error.message : error}; output:\n${out}`);
    }
  })();
  if (!Number.isFinite(parsed.rps) || !(parsed.requests > 0))
    throw new Error(`${tool} ${args.join(" ")} measured nothing; output:\n${out}`);
  const percent = (ticks: number) => (100 * ticks) / CLOCK_TICKS_PER_SECOND / elapsedS / cores;
  const serverTicks = serverAfter - serverBefore;
  const benchTicks = ((bench.user + bench.system) / 1e6) * CLOCK_TICKS_PER_SECOND;
  return {
    tool,
    ...parsed,
    serverCpuMsPerRequest: (serverTicks * (1000 / CLOCK_TICKS_PER_SECOND)) / parsed.requests,
    serverCpuPercent: percent(serverTicks),
    toolCpuPercent: percent(toolTicks),
    benchCpuPercent: percent(benchTicks),
    otherCpuPercent: Math.max(0, percent(busyAfter - busyBefore - serverTicks - toolTicks - benchTicks)),
    peakRssBytes: await peakRssBytes(pid),
  };
}
