/**
 * The origin service: the same app on Node for what the edge cannot do (pushes,
 * long streams, token issuing), against PostgreSQL, Redis and S3 or a filesystem.
 */
import { readInteger, readString } from "../src/core/config.js";
import { systemClock } from "../src/core/ports/clock.js";
import { startInstanceKey } from "../src/runtime/instance-key.js";
import { serveNodeRegistry } from "../src/runtime/node-registry.js";
import { loadServerLimits } from "../src/runtime/node-server.js";
import { openOriginRegistry } from "./origin-registry.js";

const env = process.env;
const { registry, close } = await openOriginRegistry(env, { migrateFirst: env.PIER_MIGRATE_ON_START !== "false" });
const { config, sql } = registry;
const hostname = readString(env, "PIER_HOST") ?? "0.0.0.0";
const port = readInteger(env, "PORT", 8080);
const keyName = `${config.urlScheme ?? "http"}://${config.serverHostname ?? `${hostname}:${port}`}`;
const instanceKey = await startInstanceKey(sql, systemClock, {
  name: keyName,
  // Set it to keep one key across restarts; without it each start registers a new one.
  keyFile: readString(env, "PIER_INSTANCE_KEY_FILE"),
  onRefreshError: (error) => console.error("instance key refresh failed:", error),
});
const { port: listening } = await serveNodeRegistry(
  { ...registry, signingKey: instanceKey.signing },
  {
    runtime: "origin",
    hostname,
    port,
    limits: loadServerLimits(env),
    async release() {
      instanceKey.stop();
      await close();
    },
  },
);
console.log(`Pier origin listening on port ${listening}`);
