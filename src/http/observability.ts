/**
 * Building a runtime's observability: its metrics, the request scope, and the port
 * wrappers that count into them. Composition roots call this once per process/isolate.
 */
import type { RegistryConfig } from "../core/config.js";
import { createPierMetrics, instrumentPorts, type PierMetricsOptions, type RequestStats } from "../core/metrics/pier-metrics.js";
import type { RequestScope } from "../core/ports/request-scope.js";
import type { Registry } from "../core/registry.js";
import type { Observability } from "./context.js";

export function observed(
  registry: Registry,
  runtime: "edge" | "origin" | "embedded",
  scope: RequestScope<RequestStats>,
  options: PierMetricsOptions = {},
): { registry: Registry; observability: Observability } {
  const metrics = createPierMetrics(runtime, options);
  const config: RegistryConfig = registry.config;
  return {
    registry: instrumentPorts(registry, metrics, scope),
    observability: {
      metrics,
      scope,
      log: config.logRequests ? (line) => console.log(line) : null,
      serveMetrics: runtime !== "edge",
      metricsToken: config.metricsToken,
    },
  };
}
