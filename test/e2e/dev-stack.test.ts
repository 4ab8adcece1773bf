/**
 * `npm run dev` end to end: one command brings up the edge under `wrangler dev` over
 * HTTPS, the origin and the gateways, with a user; skopeo logs in with the printed
 * line, pushes an image through the edge (bytes to the origin) and reads it back; a
 * second start keeps the same password and signing key; SIGINT stops everything.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../support/edge-server.js";
import { hermeticClients, type HermeticClients } from "../support/hermetic-clients.js";
import { createOciLayout } from "../support/oci-layout.js";
import { spawnEntry, type Spawned } from "../support/process.js";
import { POSTGRES_ADMIN_URL } from "../support/services.js";

const LOGIN = /skopeo login --tls-verify=false -u (\S+) -p (\S+) (\S+)/;
const START_TIMEOUT_MS = 90_000;

let work: string;
let clients: HermeticClients;
let env: Record<string, string>;
let databaseName: string;

async function startDev(): Promise<{ dev: Spawned; user: string; password: string; host: string }> {
  const dev = spawnEntry("scripts/dev.ts", env);
  const [, user, password, host] = await dev.waitFor(LOGIN, START_TIMEOUT_MS);
  await dev.waitFor(/Pier origin listening/, START_TIMEOUT_MS);
  // wrangler prints its ready line only at info level: poll the edge instead.
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const answered = await clients.run("curl", ["-sk", "-o", "/dev/null", "-w", "%{http_code}", `https://${host}/v2/`]).catch(() => "");
    if (answered === "401") break;
    if (Date.now() > deadline) throw new Error(`the edge never answered:\n${dev.output()}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  return { dev, user: user!, password: password!, host: host! };
}

async function stopDev(dev: Spawned): Promise<number | null> {
  dev.child.kill("SIGINT");
  const timer = setTimeout(() => dev.child.kill("SIGKILL"), 20_000);
  const code = await dev.exited;
  clearTimeout(timer);
  return code;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "pier-dev-"));
  clients = await hermeticClients(work);
  databaseName = `pier_devstack_${process.pid}`;
  const admin = new URL(POSTGRES_ADMIN_URL);
  admin.pathname = `/${databaseName}`;
  env = {
    PIER_DATA_DIR: join(work, "data"),
    DATABASE_URL: admin.toString(),
    PIER_DEV_POSTGRES_URL: POSTGRES_ADMIN_URL,
    PIER_DEV_EDGE_PORT: String(await freePort()),
    PIER_DEV_ORIGIN_PORT: String(await freePort()),
    PIER_DEV_GATEWAY_PORT: "0",
  };
});

afterAll(async () => {
  const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await client.connect();
  await client.query(`DROP DATABASE IF EXISTS "${databaseName}" WITH (FORCE)`);
  await client.end();
  await rm(work, { recursive: true, force: true });
});

describe("npm run dev", () => {
  it(
    "serves a push and pull through the HTTPS edge with the printed login, keeps its secrets across restarts and stops on SIGINT",
    async () => {
      const first = await startDev();
      const signingKey = await readFile(join(env.PIER_DATA_DIR!, "dev", "edge-signing-key.json"), "utf8");
      try {
        const login = await clients.skopeo("login", ["--tls-verify=false", "-u", first.user, "-p", first.password, first.host]);
        expect(login).toContain("Login Succeeded");
        const layout = await createOciLayout(join(work, "layout"));
        const image = await layout.addImage({ layerSizes: [4096, 200_000] });
        await layout.tag("v1", image.manifest);
        const target = `docker://${first.host}/${first.user}/app:v1`;
        await clients.skopeo("copy", ["--dest-tls-verify=false", `oci:${layout.dir}:v1`, target]);
        const inspected = JSON.parse(await clients.skopeo("inspect", ["--tls-verify=false", "--raw", target])) as {
          layers: { digest: string }[];
        };
        expect(inspected.layers.map((l) => l.digest)).toEqual(image.layers.map((l) => l.digest));
        await clients.skopeo("copy", ["--src-tls-verify=false", target, `dir:${join(work, "pulled")}`]);
      } finally {
        expect(await stopDev(first.dev)).toBe(0);
      }

      const second = await startDev();
      try {
        expect(second.password).toBe(first.password);
        expect(await readFile(join(env.PIER_DATA_DIR!, "dev", "edge-signing-key.json"), "utf8")).toBe(signingKey);
      } finally {
        expect(await stopDev(second.dev)).toBe(0);
      }
    },
    5 * START_TIMEOUT_MS,
  );
});
