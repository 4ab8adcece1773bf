/**
 * containerd's `?ns=<upstream host>`: one mirror endpoint for many upstreams. Content is
 * stored locally in the cache organizations, so the mapping is proven on its own.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Hono } from "hono";
import { createApp } from "../../src/http/app.js";
import { startOriginRegistry, TEST_HOST, type OriginFixture } from "../support/origin-registry.js";
import { createNamespace, createRepository, storeImage, tagManifest, unique, type SeededImage } from "../support/quay-seed.js";

let origin: OriginFixture;
let app: Hono;
const hub = unique("hub");
const lib = unique("lib");
const ghcr = unique("gh");
let alpine: SeededImage;
let redis: SeededImage;
let tool: SeededImage;
const ghcrHost = `ghcr-${crypto.randomUUID().slice(0, 8)}.example`;

async function cacheOf(org: string, upstream: string, repository: string): Promise<SeededImage> {
  const id = await createNamespace(origin.registry, org, { organization: true });
  await origin.direct.query(
    `INSERT INTO proxycacheconfig (organization_id, creation_date, upstream_registry, expiration_s, insecure) VALUES ($1, now(), $2, 86400, false)`,
    [id, upstream],
  );
  const repoId = await createRepository(origin.registry, id, repository, { visibility: "private" });
  const image = await storeImage(origin.registry, repoId);
  await tagManifest(origin.registry, repoId, "v1", image.manifest.id);
  return image;
}

beforeAll(async () => {
  origin = await startOriginRegistry("nsrouting", undefined, { env: { PIER_PROXY_CACHE: "true" } });
  app = createApp(origin.registry);
  // Two caches of Docker Hub: the whole host, and its library namespace (which wins for library/…).
  redis = await cacheOf(hub, "docker.io", "bitnami/redis");
  alpine = await cacheOf(lib, "docker.io/library", "alpine");
  tool = await cacheOf(ghcr, `${ghcrHost}/acme`, "tool");
}, 60_000);

afterAll(async () => {
  await origin?.close();
});

async function get(path: string, options: { method?: string; token?: string } = {}): Promise<Response> {
  const headers: Record<string, string> = { accept: "application/vnd.oci.image.manifest.v1+json" };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  return app.request(`https://${TEST_HOST}${path}`, { method: options.method ?? "GET", headers });
}

describe("?ns= routing", () => {
  it("serves containerd's requests from the cache organization of the named host", async () => {
    const pull = await origin.token("puller", {
      [`${lib}/alpine`]: ["pull"],
      [`${hub}/bitnami/redis`]: ["pull"],
      [`${ghcr}/tool`]: ["pull"],
    });
    const manifest = await get(`/v2/library/alpine/manifests/v1?ns=docker.io`, { token: pull });
    expect(manifest.status).toBe(200);
    expect(manifest.headers.get("docker-content-digest")).toBe(alpine.manifest.digest);
    const head = await get(`/v2/library/alpine/manifests/v1?ns=registry-1.docker.io`, { method: "HEAD", token: pull });
    expect(head.headers.get("docker-content-digest")).toBe(alpine.manifest.digest);
    const other = await get(`/v2/bitnami/redis/manifests/v1?ns=docker.io`, { token: pull });
    expect(other.headers.get("docker-content-digest")).toBe(redis.manifest.digest);
    const blob = await get(`/v2/acme/tool/blobs/${tool.layers[0]!.digest}?ns=${ghcrHost}`, { token: pull });
    expect([200, 302]).toContain(blob.status);
    const tags = await get(`/v2/library/alpine/tags/list?ns=docker.io`, { token: pull });
    expect(await tags.json()).toEqual({ name: `${lib}/alpine`, tags: ["v1"] });
  });

  it("challenges for the rewritten repository, which is the scope containerd asks a token for", async () => {
    const response = await get(`/v2/library/alpine/manifests/v1?ns=docker.io`);
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toContain(`scope="repository:${lib}/alpine:pull"`);
  });

  it("answers an unknown host 404 NAME_UNKNOWN, a malformed ns 400, and leaves its own host alone", async () => {
    const unknown = await get(`/v2/library/alpine/manifests/v1?ns=quay.io`);
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { errors: { code: string; message: string }[] }).errors[0]).toMatchObject({
      code: "NAME_UNKNOWN",
      message: "no cache organization for upstream quay.io",
    });
    const malformed = await get(`/v2/library/alpine/manifests/v1?ns=${encodeURIComponent("not a host/")}`);
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe("INVALID_REQUEST");
    const pull = await origin.token("puller", { [`${lib}/alpine`]: ["pull"] });
    const own = await get(`/v2/${lib}/alpine/manifests/v1?ns=${TEST_HOST}`, { token: pull });
    expect(own.headers.get("docker-content-digest")).toBe(alpine.manifest.digest);
  });

  it("ignores ns while the proxy cache is off", async () => {
    const off = createApp({ ...origin.registry, config: { ...origin.registry.config, proxyCache: false } });
    const response = await off.request(`https://${TEST_HOST}/v2/library/alpine/manifests/v1?ns=docker.io`);
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toContain(`scope="repository:library/alpine:pull"`);
  });
});
