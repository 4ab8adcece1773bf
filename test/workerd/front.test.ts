/**
 * The strangler front on the edge, in workerd: the Worker routes between itself and a real
 * legacy registry (the docker-registry the workerd test stack started, holding team/app:v1),
 * and a rule change stored by another process reaches the running Worker within
 * PIER_FRONT_REFRESH_MS.
 */
import { env } from "cloudflare:workers";
import { afterAll, describe, expect, it } from "vitest";
import { upstashCache } from "../../src/adapters/cache/upstash.js";
import { systemClock } from "../../src/core/ports/clock.js";
import { prefixedCache } from "../../src/core/prefixed-cache.js";
import { ALL_TO_LEGACY, type FrontRules } from "../../src/core/routing/rules.js";
import { FRONT_RULES_KEY, FrontRuleStore } from "../../src/core/routing/store.js";
import worker from "../../workers/edge.js";
import { unique } from "../support/quay-seed.js";

const REFRESH_MS = 300;
const prefix = `${unique("edgefront")}:`;
const frontEnv = {
  ...env,
  PIER_LEGACY_URL: `http://${env.MIRROR_UPSTREAM_HOST}`,
  PIER_FRONT_REFRESH_MS: String(REFRESH_MS),
  PIER_REDIS_PREFIX: prefix,
};
const context = { waitUntil() {}, passThroughOnException() {} };
const sharedCache = prefixedCache(upstashCache({ url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN }), prefix);
/** Another process's view of the same rules (an operator's API call on the origin, say). */
const operator = new FrontRuleStore(sharedCache, systemClock, 0, ALL_TO_LEGACY);

afterAll(() => sharedCache.delete([FRONT_RULES_KEY]));

/** Who answered the manifest GET: legacy serves team/app:v1; Pier asks an anonymous client for a token. */
async function answeredBy(): Promise<"pier" | "legacy"> {
  const request = new Request("https://registry.example/v2/team/app/manifests/v1", {
    headers: { accept: "application/vnd.oci.image.manifest.v1+json" },
  });
  const response = await worker.fetch(request as never, frontEnv as never, context as never);
  await response.arrayBuffer();
  if (response.status === 200 && response.headers.get("docker-content-digest") === env.MIRROR_UPSTREAM_DIGEST) return "legacy";
  expect(response.headers.get("www-authenticate")).toMatch(/^Bearer /);
  return "pier";
}

async function changeAndWait(rules: FrontRules, expected: "pier" | "legacy"): Promise<number> {
  await operator.replace(rules);
  const changedAt = Date.now();
  while ((await answeredBy()) !== expected) {
    expect(Date.now() - changedAt).toBeLessThan(REFRESH_MS + 700);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return Date.now() - changedAt;
}

describe("edge Worker: strangler front", () => {
  it("proxies to legacy by default, and follows rule changes and the kill switch within its refresh bound", async () => {
    expect(await answeredBy()).toBe("legacy");
    const base = await worker.fetch(new Request("https://registry.example/v2/") as never, frontEnv as never, context as never);
    expect(base.status).toBe(200);
    expect(await base.json()).toEqual({});

    const team = { id: "team", families: ["*"], namespaces: ["team"], target: "pier" as const };
    expect(await changeAndWait({ killSwitch: false, rules: [team] }, "pier")).toBeLessThan(REFRESH_MS + 700);
    expect(await changeAndWait({ killSwitch: true, rules: [team] }, "legacy")).toBeLessThan(REFRESH_MS + 700);
    expect(await changeAndWait({ killSwitch: false, rules: [team] }, "pier")).toBeLessThan(REFRESH_MS + 700);
  });
  it("streams an upload through to legacy: the POST, then the PUT with its bytes", async () => {
    await operator.replace(ALL_TO_LEGACY);
    await new Promise((resolve) => setTimeout(resolve, REFRESH_MS + 50));
    const bytes = new TextEncoder().encode("uploaded through the front ".repeat(4096));
    const digest = `sha256:${Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)), (b) => b.toString(16).padStart(2, "0")).join("")}`;
    const call = (method: string, path: string, body?: ReadableStream<Uint8Array>) =>
      worker.fetch(
        new Request(`https://registry.example${path}`, { method, body, ...(body && { duplex: "half" }) } as RequestInit) as never,
        frontEnv as never,
        context as never,
      );
    const started = await call("POST", "/v2/team/uploaded/blobs/uploads/");
    expect(started.status).toBe(202);
    const location = new URL(started.headers.get("location")!);
    expect(location.host).toBe("registry.example");
    location.searchParams.set("digest", digest);
    const put = await call("PUT", `${location.pathname}${location.search}`, new Blob([bytes]).stream());
    expect(put.status).toBe(201);
    expect(put.headers.get("docker-content-digest")).toBe(digest);
    const head = await call("HEAD", `/v2/team/uploaded/blobs/${digest}`);
    expect(head.headers.get("content-length")).toBe(String(bytes.byteLength));
  });
});
