/**
 * The origin service: the same app on Node for what the edge cannot do (pushes,
 * long streams, token issuing), against PostgreSQL, Redis and S3 or a filesystem.
 * Settings come from the environment, over Quay's config.yaml when one is named
 * (`--config <file>` or PIER_CONFIG). With PIER_WORKERS above 1 (default: one per core)
 * a primary process migrates, holds the instance key and the port, and forks that many
 * workers that serve (src/runtime/cluster.ts); each reads the settings the same way.
 */
import cluster from "node:cluster";
import { availableParallelism } from "node:os";
import type { JWK } from "jose";
import { signingKeyFromJwk } from "../src/core/auth/service-keys.js";
import { loadTlsSettings, readInteger, readString, requireString } from "../src/core/config.js";
import { MetricsRegistry } from "../src/core/metrics/registry.js";
import { systemClock } from "../src/core/ports/clock.js";
import { describeMetricsAccess } from "../src/http/handlers/metrics.js";
import { joinGroup, startPrimary } from "../src/runtime/cluster.js";
import { startInstanceKey } from "../src/runtime/instance-key.js";
import { nodeBuildInfo } from "../src/runtime/build-info.js";
import { serveNodeRegistry } from "../src/runtime/node-registry.js";
import { requireFipsWhenAsked } from "../src/runtime/fips.js";
import { loadServerLimits } from "../src/runtime/node-server.js";
import { recordProcessMetrics } from "../src/runtime/process-metrics.js";
import { loadNodeSettings } from "../src/runtime/quay-config-file.js";
import { runStartup, waitForDatabase } from "../src/runtime/startup.js";
import { tlsServerOptions } from "../src/runtime/tls.js";
import { openOriginRegistry } from "./origin-registry.js";

const log = (line: string) => console.log(`Pier origin: ${line}`);
const group = joinGroup();

await runStartup("origin", { host: process.env.PIER_HOST ?? "0.0.0.0", port: process.env.PORT ?? "8080" }, async (undo) => {
  const env = await loadNodeSettings("origin", process.argv.slice(2), process.env, log);
  requireFipsWhenAsked(env);
  const tlsSettings = loadTlsSettings(env);
  const tls = tlsSettings === null ? null : await tlsServerOptions(tlsSettings);
  const hostname = readString(env, "PIER_HOST") ?? "0.0.0.0";
  const port = readInteger(env, "PORT", 8080);
  const workers = readInteger(env, "PIER_WORKERS", availableParallelism(), 1);
  const database = new URL(requireString(env, "DATABASE_URL"));
  // A database still starting (containers, systemd ordering) is waited for; "listening" means ready.
  // Workers find it migrated and up: the primary waited and migrated first.
  const { registry, close } = await waitForDatabase(
    () => openOriginRegistry(env, { migrateFirst: group === null && env.PIER_MIGRATE_ON_START !== "false" }),
    {
      totalMs: readInteger(env, "PIER_DATABASE_WAIT_S", 30) * 1000,
      describe: `${database.host}${database.pathname}`,
      log,
    },
  );
  undo(close);
  const { config, sql } = registry;
  const build = nodeBuildInfo(env);
  const startLine = (listening: number, suffix: string) =>
    // One line: the port first (scripts and tests read it), then the build and who may scrape /metrics.
    `Pier origin listening on port ${listening} on ${hostname} (pier ${build.version}, commit ${build.commit}; ${describeMetricsAccess(config.metricsToken)})${suffix}`;

  if (group !== null) {
    // A worker signs with the group's one instance key, which the primary registered and keeps fresh.
    const { instanceJwk } = (await group.setup()) as { instanceJwk: JWK };
    await serveNodeRegistry(
      { ...registry, signingKey: signingKeyFromJwk(JSON.stringify(instanceJwk)) },
      { runtime: "origin", hostname, port, limits: loadServerLimits(env), tls, build, release: close, group },
    );
    return;
  }

  const keyName = `${config.urlScheme ?? (tls ? "https" : "http")}://${config.serverHostname ?? `${hostname}:${port}`}`;
  const instanceKey = await startInstanceKey(sql, systemClock, {
    name: keyName,
    // Set it to keep one key across restarts; without it each start registers a new one.
    keyFile: readString(env, "PIER_INSTANCE_KEY_FILE"),
    onRefreshError: (error) => console.error("instance key refresh failed:", error),
  });
  undo(async () => instanceKey.stop());

  if (workers > 1) {
    // The primary's own process metrics count in the group's sum (its memory is the deployment's too).
    const own = new MetricsRegistry({ runtime: "origin" });
    recordProcessMetrics(own);
    const { port: listening, pids } = await startPrimary({
      workers,
      setup: { instanceJwk: instanceKey.privateJwk },
      ownAnswer: (topic) => (topic === "metrics" ? own.snapshot() : undefined),
      log,
      async release() {
        instanceKey.stop();
        await close();
      },
    });
    console.log(startLine(listening, ` with ${workers} workers (pids ${pids.join(", ")})`));
    return;
  }

  const { port: listening } = await serveNodeRegistry(
    { ...registry, signingKey: instanceKey.signing },
    {
      runtime: "origin",
      hostname,
      port,
      limits: loadServerLimits(env),
      tls,
      build,
      async release() {
        instanceKey.stop();
        await close();
      },
    },
  );
  console.log(startLine(listening, ""));
});
