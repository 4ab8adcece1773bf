/**
 * Upstream rate-limit budgeting through the proxy cache: a stand-in upstream (a tiny
 * HTTP server, the fault injector here) announces its budget in Docker Hub's headers,
 * then answers 429. Pier spends no request on revalidation while the budget is low,
 * serves what it has, and gives 429 with Retry-After only when nothing cached can answer.
 */
import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Hono } from "hono";
import { createApp } from "../../src/http/app.js";
import { fakeClock } from "../support/fake-clock.js";
import { startOriginRegistry, TEST_HOST, type OriginFixture } from "../support/origin-registry.js";
import { createNamespace, unique } from "../support/quay-seed.js";

const EXPIRATION_S = 60;
const clock = fakeClock(Date.now());
const manifest = JSON.stringify({
  schemaVersion: 2,
  mediaType: "application/vnd.oci.image.manifest.v1+json",
  config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: `sha256:${"a".repeat(64)}`, size: 2 },
  layers: [],
});
const digest = `sha256:${createHash("sha256").update(manifest).digest("hex")}`;

let server: Server;
let origin: OriginFixture;
let app: Hono;
let org: string;
/** Manifest requests the upstream received. */
const received: string[] = [];
/** Once true, every manifest request is answered 429. */
let exhausted = false;

beforeAll(async () => {
  server = createServer((request, response) => {
    if (request.url === "/v2/") return response.writeHead(200).end("{}");
    received.push(`${request.method} ${request.url}`);
    if (exhausted) return response.writeHead(429, { "Retry-After": "30", "ratelimit-remaining": "0;w=21600" }).end();
    if (!request.url?.endsWith("/manifests/v1")) return response.writeHead(404).end();
    response.writeHead(200, {
      "Content-Type": "application/vnd.oci.image.manifest.v1+json",
      "Docker-Content-Digest": digest,
      "Content-Length": String(Buffer.byteLength(manifest)),
      "ratelimit-limit": "100;w=21600",
      "ratelimit-remaining": "1;w=21600",
    });
    response.end(request.method === "HEAD" ? undefined : manifest);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  origin = await startOriginRegistry("ratelimit", clock, { env: { PIER_PROXY_CACHE: "true", PIER_SSRF_ALLOWED_HOSTS: "127.0.0.1" } });
  org = unique("limited");
  const id = await createNamespace(origin.registry, org, { organization: true });
  await origin.direct.query(
    `INSERT INTO proxycacheconfig (organization_id, creation_date, upstream_registry, expiration_s, insecure) VALUES ($1, now(), $2, $3, true)`,
    [id, `127.0.0.1:${port}`, EXPIRATION_S],
  );
  app = createApp(origin.registry);
}, 60_000);

afterAll(async () => {
  await origin?.close();
  await new Promise((resolve) => server?.close(resolve));
});

async function pull(tag: string): Promise<Response> {
  const name = `${org}/library/limited`;
  const token = await origin.token("puller", { [name]: ["pull"] });
  return app.request(`https://${TEST_HOST}/v2/${name}/manifests/${tag}`, {
    headers: { authorization: `Bearer ${token}`, accept: "application/vnd.oci.image.manifest.v1+json" },
  });
}

describe("upstream rate-limit budget", () => {
  it("serves stale instead of revalidating on a low budget, and answers 429 with Retry-After when nothing cached can answer", async () => {
    expect((await pull("v1")).status).toBe(200);
    expect(received).toEqual(["GET /v2/library/limited/manifests/v1"]);

    // 1 of 100 left: below the reserve kept for fills, so the expired tag is served without asking.
    clock.advance((EXPIRATION_S + 1) * 1000);
    const stale = await pull("v1");
    expect(stale.status).toBe(200);
    expect(stale.headers.get("docker-content-digest")).toBe(digest);
    expect(received).toHaveLength(1);

    // A fill may spend the reserve; the upstream refuses it.
    exhausted = true;
    const refused = await pull("v2");
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("30");
    const body = (await refused.json()) as { errors: { code: string; message: string }[] };
    expect(body.errors[0]!.code).toBe("TOOMANYREQUESTS");
    expect(body.errors[0]!.message).toContain("127.0.0.1:");
    expect(received).toHaveLength(2);

    // Until Retry-After passes, nothing is asked: 429 at once.
    const blocked = await pull("v3");
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(received).toHaveLength(2);
    // The cached tag is still served.
    expect((await pull("v1")).status).toBe(200);
  });
});
