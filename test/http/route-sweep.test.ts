/**
 * The route sweep (test/support/route-sweep.ts) against the origin's app on real PostgreSQL:
 * /api/v1 as a superuser with every optional feature on, /v2 as a writer of one repository.
 * No answer is a 5xx; every refusal is in its surface's error format.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApiHarness, type ApiHarness } from "../support/api-harness.js";
import { startPushScene, type PushScene } from "../support/origin-registry.js";
import { unique } from "../support/quay-seed.js";
import { answerOf, apiRoutes, registryRoutes, seedSweepTargets, sweep, SWEEP_FEATURES } from "../support/route-sweep.js";

describe("the management API (/api/v1) with hostile parameters and bodies", () => {
  let api: ApiHarness;
  let valid: Record<string, string>;

  beforeAll(async () => {
    api = await startApiHarness("routesweep", SWEEP_FEATURES);
    valid = await seedSweepTargets(
      (method, path, body) => api.call(method, path, { auth: api.root.basic, body }),
      unique("sweeporg"),
      api.root.username,
    );
  }, 60_000);
  afterAll(() => api?.close());

  it("answers every route below 500, refusals in Quay's error format", async () => {
    const { failures, asked } = await sweep(apiRoutes(), valid, async (method, path, body) => {
      const headers = new Headers({ authorization: api.root.basic });
      if (body !== undefined) headers.set("content-type", "application/json");
      const response = await api.app.request(`https://registry.test${path}`, { method, headers, body });
      return answerOf(response);
    });
    expect(asked).toBeGreaterThan(2000);
    expect(failures).toEqual([]);
  }, 300_000);
});

describe("the registry API (/v2) with hostile parameters and bodies", () => {
  let scene: PushScene;

  beforeAll(async () => {
    scene = await startPushScene("routesweepv2");
  }, 60_000);
  afterAll(() => scene?.origin.close());

  it("answers every route below 500, refusals as OCI errors", async () => {
    const valid = { name: scene.repo, reference: "latest", digest: `sha256:${"c".repeat(64)}`, uuid: crypto.randomUUID() };
    const { failures, asked } = await sweep(registryRoutes(), valid, async (method, path, body) => {
      // As the scene's writer (push and pull on its repository).
      const headers: Record<string, string> = body === undefined ? {} : { "content-type": "application/vnd.oci.image.manifest.v1+json" };
      const response = await scene.call(method, path, { headers, body });
      return answerOf(response);
    });
    expect(asked).toBeGreaterThan(300);
    expect(failures).toEqual([]);
  }, 300_000);
});
