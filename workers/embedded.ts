/**
 * `npm start`: the whole registry in one process with embedded defaults — PGlite
 * under ./data/postgres, blobs under ./data/storage, an in-memory cache. Needs
 * nothing but Node. Settings come from the environment, over Quay's config.yaml when
 * one is named (`--config <file>` or PIER_CONFIG).
 */
import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { pgliteSql } from "../src/adapters/sql/pglite.js";
import { bootstrapAdmin } from "../src/core/accounts.js";
import { loadRegistryConfig, loadTlsSettings, readInteger, readString, type ConfigSource } from "../src/core/config.js";
import { systemClock } from "../src/core/ports/clock.js";
import { ensureStorageLocations } from "../src/core/storage-locations.js";
import { migrate } from "../src/db/migrate.js";
import { lockDataDir } from "../src/runtime/data-dir-lock.js";
import { startInstanceKey } from "../src/runtime/instance-key.js";
import { describeMetricsAccess } from "../src/http/handlers/metrics.js";
import { nodeBuildInfo } from "../src/runtime/build-info.js";
import { serveNodeRegistry } from "../src/runtime/node-registry.js";
import { requireFipsWhenAsked } from "../src/runtime/fips.js";
import { loadServerLimits } from "../src/runtime/node-server.js";
import { loadNodeSettings } from "../src/runtime/quay-config-file.js";
import { runStartup } from "../src/runtime/startup.js";
import { PREPARE_DATABASE_ENV, prepareFirstStartInChild } from "../src/runtime/first-start.js";
import { clientTrustFlag, tlsServerOptions } from "../src/runtime/tls.js";
import { embeddedRegistry } from "./embedded-registry.js";

const startedAt = Date.now();

/**
 * Quay's DATABASE_SECRET_KEY for robot tokens: PIER_DATABASE_SECRET_KEY when set, else one
 * generated on first start and kept (mode 0600) in the data directory, so robots work out
 * of the box and keep working across restarts.
 */
async function databaseSecretKey(env: ConfigSource, dataDir: string): Promise<string> {
  const configured = readString(env, "PIER_DATABASE_SECRET_KEY");
  if (configured !== null) return configured;
  const file = join(dataDir, "database-secret-key");
  try {
    return (await readFile(file, "utf8")).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  // A letter-led base64url string: Quay's convert_secret_key reads it as text, never as an integer or UUID.
  const key = `pier-${randomBytes(48).toString("base64url")}`;
  await writeFile(file, key + "\n", { mode: 0o600, flag: "wx" });
  return key;
}

const preparing = process.env[PREPARE_DATABASE_ENV];
if (preparing !== undefined) {
  // The child of prepareFirstStartInChild: create and migrate, then exit with what that cost.
  const sql = await pgliteSql(preparing, { sharedBuffers: process.env.PIER_PGLITE_SHARED_BUFFERS || undefined });
  await migrate(sql);
  await sql.close();
  process.exit(0);
}

await runStartup("embedded", { host: process.env.PIER_HOST ?? "127.0.0.1", port: process.env.PORT ?? "5000" }, async (undo) => {
  const env = await loadNodeSettings("embedded", process.argv.slice(2), process.env, (line) => console.log(`Pier embedded: ${line}`));
  const dataDir = resolve(readString(env, "PIER_DATA_DIR") ?? "data");
  const adminUser = readString(env, "PIER_ADMIN_USER") ?? "admin";
  const hostname = readString(env, "PIER_HOST") ?? "127.0.0.1";
  const port = readInteger(env, "PORT", 5000);
  requireFipsWhenAsked(env);
  const tlsSettings = loadTlsSettings(env);
  const tls = tlsSettings === null ? null : await tlsServerOptions(tlsSettings);
  const scheme = tls ? "https" : "http";
  await mkdir(dataDir, { recursive: true });
  const unlock = await lockDataDir(dataDir);
  undo(unlock);
  const databaseDir = join(dataDir, "postgres");
  const openDatabase = () => pgliteSql(databaseDir, { sharedBuffers: readString(env, "PIER_PGLITE_SHARED_BUFFERS") ?? undefined });
  await prepareFirstStartInChild(import.meta.url, databaseDir);
  const sql = await openDatabase();
  undo(() => sql.close());
  await migrate(sql);

  const config = loadRegistryConfig({
    PIER_SUPER_USERS: adminUser,
    ...env,
    PIER_DATABASE_SECRET_KEY: await databaseSecretKey(env, dataDir),
  });
  await ensureStorageLocations(sql, config);
  const admin = await bootstrapAdmin(sql, systemClock, {
    username: adminUser,
    password: readString(env, "PIER_ADMIN_PASSWORD"),
    email: readString(env, "PIER_ADMIN_EMAIL") ?? `${adminUser}@localhost`,
    removedTagExpirationSeconds: config.defaultTagExpirationSeconds,
  });
  // At once: a start that fails later (a busy port) must not lose the only copy of the password.
  if (admin.generatedPassword) console.log(`Created admin user "${admin.username}" with password: ${admin.generatedPassword}`);

  const instanceKey = await startInstanceKey(sql, systemClock, {
    name: `${scheme}://${hostname}:${port}`,
    keyFile: join(dataDir, "instance-key.jwk"),
    onRefreshError: (error) => console.error("instance key refresh failed:", error),
  });
  const build = nodeBuildInfo(env);
  const server = await serveNodeRegistry(embeddedRegistry(env, dataDir, config, sql, instanceKey.signing), {
    runtime: "embedded",
    hostname,
    port,
    limits: loadServerLimits(env),
    tls,
    build,
    async release() {
      instanceKey.stop();
      await sql.close();
      await unlock();
      console.log("Pier stopped");
    },
  });

  const address = `${hostname}:${server.port}`;
  const trust = clientTrustFlag(tlsSettings);

  // One write, after the signal handlers are in place: whoever reads "ready" may stop us.
  const adminLine = admin.generatedPassword
    ? `Admin user "${admin.username}" created (password above)`
    : `Admin user "${admin.username}" ${admin.result === "created" ? "created" : "ready"} (password from PIER_ADMIN_PASSWORD or unchanged)`;
  console.log(
    [
      `Pier registry ready at ${scheme}://${address} in ${((Date.now() - startedAt) / 1000).toFixed(1)} s (data in ${dataDir})`,
      `Pier ${build.version}, commit ${build.commit}; ${describeMetricsAccess(config.metricsToken)}`,
      adminLine,
      `Log in with: ${["skopeo login", trust, "-u", admin.username, address].filter(Boolean).join(" ")}`,
      `         or: ${["podman login", trust, "-u", admin.username, address].filter(Boolean).join(" ")}`,
    ].join("\n"),
  );
  // Starting leaves garbage an idle process would keep for good: a first start's initdb (a
  // whole second WASM instance) and the migrations' buffers. `npm start` exposes gc for this one collection.
  (globalThis as { gc?: () => void }).gc?.();
});
