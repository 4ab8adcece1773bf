/**
 * The route sweep (test/support/route-sweep.ts) inside workerd, on the edge's own adapters:
 * PostgreSQL through the Neon driver, Redis through Upstash, storage through signed S3. The
 * same hostile parameters and bodies as on the origin reach SQL through another driver here:
 * no answer is a 5xx, and every refusal is in its surface's error format.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { hashPassword } from "../../src/core/auth/passwords.js";
import { createInstanceKey } from "../../src/core/auth/service-keys.js";
import { systemClock } from "../../src/core/ports/clock.js";
import { createApp } from "../../src/http/app.js";
import { edgeRegistry } from "../../workers/edge.js";
import { createNamespace, unique } from "../support/quay-seed.js";
import { answerOf, apiRoutes, registryRoutes, seedSweepTargets, sweep, SWEEP_FEATURES, type Answer } from "../support/route-sweep.js";

const HOST = "registry.example";
const PASSWORD = "sweep password 1";
const root = unique("sweeproot");
const settings = {
  ...env,
  PIER_SUPER_USERS: root,
  PIER_DATABASE_SECRET_KEY: "edge-sweep-database-secret-key",
  PIER_REDIS_PREFIX: `${unique("sweep")}:`,
};
// /v2 without the front: the /api/v1 sweep throws its kill switch, which would send /v2 to legacy.
const registry = edgeRegistry(settings);
const featured = edgeRegistry({ ...settings, ...SWEEP_FEATURES });
const basic = `Basic ${btoa(`${root}:${PASSWORD}`)}`;
let apiApp: ReturnType<typeof createApp>;
let registryApp: ReturnType<typeof createApp>;
let valid: Record<string, string>;

async function answer(
  app: ReturnType<typeof createApp>,
  method: string,
  path: string,
  authorization: string,
  body?: string,
  contentType = "application/json",
): Promise<Answer> {
  const headers: Record<string, string> = { authorization };
  if (body !== undefined) headers["content-type"] = contentType;
  const response = await app.request(`https://${HOST}${path}`, { method, headers, body });
  return answerOf(response);
}

beforeAll(async () => {
  const key = await createInstanceKey(registry.sql, systemClock, `https://${HOST}`);
  apiApp = createApp({ ...featured, signingKey: key.signing });
  registryApp = createApp({ ...registry, signingKey: key.signing });
  const rootId = await createNamespace({ sql: registry.sql, blobs: registry.blobs }, root);
  await registry.sql.query(`UPDATE "user" SET password_hash = $1 WHERE id = $2`, [await hashPassword(PASSWORD), rootId]);
  valid = await seedSweepTargets(
    async (method, path, body) => {
      const reply = await answer(apiApp, method, path, basic, body === undefined ? undefined : JSON.stringify(body));
      return { status: reply.status, json: reply.text === "" ? null : JSON.parse(reply.text) };
    },
    unique("sweeporg"),
    root,
  );
}, 120_000);

describe("edge: every route with hostile parameters and bodies", () => {
  it("answers /api/v1 below 500, refusals in Quay's error format", async () => {
    const { failures, asked } = await sweep(apiRoutes(), valid, (method, path, body) => answer(apiApp, method, path, basic, body));
    expect(asked).toBeGreaterThan(2000);
    expect(failures).toEqual([]);
  }, 600_000);

  it("answers /v2 below 500, refusals as OCI errors", async () => {
    const scope = `repository:${valid.repository}:pull,push`;
    const issued = await answer(registryApp, "GET", `/v2/auth?service=${HOST}&scope=${scope}`, basic);
    expect(issued.status, issued.text).toBe(200);
    const bearer = `Bearer ${(JSON.parse(issued.text) as { token: string }).token}`;
    const v2Valid = { name: valid.repository!, reference: "latest", digest: `sha256:${"c".repeat(64)}`, uuid: crypto.randomUUID() };
    const { failures, asked } = await sweep(registryRoutes(), v2Valid, (method, path, body) =>
      answer(registryApp, method, path, bearer, body, "application/vnd.oci.image.manifest.v1+json"),
    );
    expect(asked).toBeGreaterThan(300);
    expect(failures).toEqual([]);
  }, 600_000);
});
