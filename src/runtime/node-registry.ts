/**
 * Serving a registry from a Node runtime (origin, embedded): the ports instrumented for
 * metrics (plus the process's own and the build's), the app on a socket, the job timer
 * (in one process of a group of workers only) and the flushers of pull audit entries and
 * last pulls — and on SIGINT/SIGTERM everything stopped in order, the last batches written after the
 * server stopped taking requests, then `release` (connections, locks).
 */
import { nodeForwardFetch } from "./forward-fetch.js";
import type { TlsOptions } from "node:tls";
import { asyncLocalScope } from "../adapters/scope/async-local.js";
import { PullAuditBuffer } from "../core/audit-buffer.js";
import { LastPulls } from "../core/proxy/last-pulls.js";
import { RobotTokenUses } from "../core/auth/robot-token-uses.js";
import type { Registry } from "../core/registry.js";
import { mergeSnapshots } from "../core/metrics/merge.js";
import { createApp, type CacheSiblings } from "../http/app.js";
import { observed } from "../http/observability.js";
import { startAuditFlusher } from "./audit-flusher.js";
import type { BuildInfo } from "./build-info.js";
import type { GroupMember } from "./cluster.js";
import { startJobTimer } from "./job-timer.js";
import { listen, onShutdownSignal, type ServerLimits } from "./node-server.js";
import { recordProcessMetrics } from "./process-metrics.js";

export interface NodeRegistryOptions {
  runtime: "origin" | "embedded";
  hostname: string;
  port: number;
  limits: ServerLimits;
  /** HTTPS (and mutual TLS) server options from tlsServerOptions; null: plain HTTP. */
  tls: TlsOptions | null;
  /** The version and commit pier_build_info reports. */
  build: BuildInfo;
  /** Runs last at shutdown: close the database, caches, locks. */
  release: () => Promise<void>;
  /** The group this process serves the port with (origin workers); null: it serves alone. */
  group?: GroupMember | null;
}

/** How long a bump waits for the other workers to drop their copies (IPC through the primary: well under 1 ms when healthy). */
const FORGET_TIMEOUT_MS = 250;
/** How long /metrics waits for the other workers' samples; a worker that does not answer in time is left out of that scrape. */
const GATHER_METRICS_TIMEOUT_MS = 2_000;

const report = (what: string) => (error: unknown) => console.error(`${what} failed:`, error);

/** Resolves with the port once listening; the shutdown signals are handled from then on. */
export async function serveNodeRegistry(base: Registry, options: NodeRegistryOptions): Promise<{ port: number }> {
  const { registry, observability } = observed(base, options.runtime, asyncLocalScope());
  const group = options.group ?? null;
  const log = observability.log;
  if (group !== null && log !== null) {
    // Which worker answered: each request line says so (the JSON object, one field more).
    const fields = `,"worker":${group.index},"pid":${process.pid}}`;
    observability.log = (line) => log(line.slice(0, -1) + fields);
  }
  observability.metrics.buildInfo.set({ version: options.build.version, commit: options.build.commit }, 1);
  const stopProcessMetrics = recordProcessMetrics(observability.metrics.registry);
  const pullAudit = new PullAuditBuffer(() => Date.now());
  const lastPulls = new LastPulls(() => Date.now());
  const robotTokenUses = new RobotTokenUses(() => Date.now());
  const app = createApp(registry, {
    forwardFetch: nodeForwardFetch,
    observability,
    pullAudit,
    lastPulls,
    robotTokenUses,
    onUnexpectedError: (error, c) => console.error(`${c.req.method} ${c.req.path} failed:`, error),
    siblings: group === null ? undefined : groupCacheSiblings(group),
  });
  if (group !== null) {
    const metricsRegistry = observability.metrics.registry;
    group.answer("metrics", () => metricsRegistry.snapshot());
    observability.groupSamples = async () =>
      mergeSnapshots((await group.gather("metrics", null, GATHER_METRICS_TIMEOUT_MS)) as Record<string, number>[]);
  }
  const server = await listen(app, { hostname: options.hostname, port: options.port, limits: options.limits, tls: options.tls });
  // Once per group: the jobs' leases would keep a second runner idle anyway, but its timers and queries would not be.
  const stopJobs =
    group === null || group.index === 1
      ? startJobTimer(registry, observability.metrics, (outcome) => {
          if (outcome.error) console.error(`job ${outcome.name} failed: ${outcome.error}`);
        })
      : () => {};
  const stopAudit = startAuditFlusher(pullAudit, registry.sql, report("pull audit flush"));
  const stopLastPulls = startAuditFlusher(lastPulls, registry.sql, report("last pull flush"));
  const stopRobotTokenUses = startAuditFlusher(robotTokenUses, registry.sql, report("robot token use flush"));
  onShutdownSignal(async () => {
    stopJobs();
    stopProcessMetrics();
    await server.close();
    await Promise.all([stopAudit(), stopLastPulls(), stopRobotTokenUses()]);
    await options.release();
  }, server.cutOff);
  group?.ready(server.port);
  return { port: server.port };
}

/** A bump here makes every sibling drop its copies before the write is acknowledged. */
function groupCacheSiblings(group: GroupMember): CacheSiblings {
  const listeners: ((repository: string) => void)[] = [];
  group.answer("forget", (repository) => {
    for (const listener of listeners) listener(repository as string);
    return true;
  });
  return {
    forget: async (repository) => void (await group.gather("forget", repository, FORGET_TIMEOUT_MS)),
    onForget: (listener) => void listeners.push(listener),
  };
}
