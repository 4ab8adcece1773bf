/**
 * Serving a registry from a Node runtime (origin, embedded): the ports instrumented for
 * metrics (plus the process's own and the build's), the app on a socket, the job timer and the flushers of pull audit entries and
 * last pulls — and on SIGINT/SIGTERM everything stopped in order, the last batches written after the
 * server stopped taking requests, then `release` (connections, locks).
 */
import { asyncLocalScope } from "../adapters/scope/async-local.js";
import { PullAuditBuffer } from "../core/audit-buffer.js";
import { LastPulls } from "../core/proxy/last-pulls.js";
import type { Registry } from "../core/registry.js";
import { createApp } from "../http/app.js";
import { observed } from "../http/observability.js";
import { startAuditFlusher } from "./audit-flusher.js";
import type { BuildInfo } from "./build-info.js";
import { startJobTimer } from "./job-timer.js";
import { listen, onShutdownSignal, type ServerLimits } from "./node-server.js";
import { recordProcessMetrics } from "./process-metrics.js";

export interface NodeRegistryOptions {
  runtime: "origin" | "embedded";
  hostname: string;
  port: number;
  limits: ServerLimits;
  /** The version and commit pier_build_info reports. */
  build: BuildInfo;
  /** Runs last at shutdown: close the database, caches, locks. */
  release: () => Promise<void>;
}

const report = (what: string) => (error: unknown) => console.error(`${what} failed:`, error);

/** Resolves with the port once listening; the shutdown signals are handled from then on. */
export async function serveNodeRegistry(base: Registry, options: NodeRegistryOptions): Promise<{ port: number }> {
  const { registry, observability } = observed(base, options.runtime, asyncLocalScope());
  observability.metrics.buildInfo.set({ version: options.build.version, commit: options.build.commit }, 1);
  const stopProcessMetrics = recordProcessMetrics(observability.metrics.registry);
  const pullAudit = new PullAuditBuffer(() => Date.now());
  const lastPulls = new LastPulls(() => Date.now());
  const app = createApp(registry, {
    observability,
    pullAudit,
    lastPulls,
    onUnexpectedError: (error, c) => console.error(`${c.req.method} ${c.req.path} failed:`, error),
  });
  const server = await listen(app, { hostname: options.hostname, port: options.port, limits: options.limits });
  const stopJobs = startJobTimer(registry, observability.metrics, (outcome) => {
    if (outcome.error) console.error(`job ${outcome.name} failed: ${outcome.error}`);
  });
  const stopAudit = startAuditFlusher(pullAudit, registry.sql, report("pull audit flush"));
  const stopLastPulls = startAuditFlusher(lastPulls, registry.sql, report("last pull flush"));
  onShutdownSignal(async () => {
    stopJobs();
    stopProcessMetrics();
    await server.close();
    await Promise.all([stopAudit(), stopLastPulls()]);
    await options.release();
  }, server.cutOff);
  return { port: server.port };
}
