/**
 * The pull-through proxy cache end to end at the HTTP layer: a real upstream (Debian's
 * docker-registry, fed by skopeo from an OCI layout), Pier's origin app over PostgreSQL,
 * Redis and the verifying S3 server, and a fake clock for expiration windows. Upstream
 * requests are counted where they leave Pier (its Upstream port).
 */
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Hono } from "hono";
import { FieldEncrypter } from "../../src/core/auth/field-encryption.js";
import { LastPulls } from "../../src/core/proxy/last-pulls.js";
import { createApp } from "../../src/http/app.js";
import { fakeClock } from "../support/fake-clock.js";
import { startFaultProxy, type FaultProxy } from "../support/fault-proxy.js";
import { hermeticClients, type HermeticClients } from "../support/hermetic-clients.js";
import { createOciLayout, type LayoutImage, type OciLayout } from "../support/oci-layout.js";
import { startOriginRegistry, TEST_HOST, type OriginFixture } from "../support/origin-registry.js";
import { createNamespace, unique } from "../support/quay-seed.js";
import { setQuota } from "./cache-org.js";
import { startPierUpstream } from "../support/pier-upstream.js";
import { pushImage, startUpstreamRegistry, type UpstreamRegistryProcess } from "../support/upstream-registry.js";

const EXPIRATION_S = 600;
const SECRET_KEY = "proxy-test-database-secret";
const clock = fakeClock(Date.now());
let upstream: UpstreamRegistryProcess;
let faulty: FaultProxy;
let origin: OriginFixture;
let app: Hono;
let clients: HermeticClients;
let layout: OciLayout;
let work: string;
/** Requests that left Pier for the upstream: `METHOD /path`. */
const sent: string[] = [];
const lastPulls = new LastPulls(() => clock.now());

/** An organization caching `upstreamHost` (through the fault proxy unless told otherwise). */
async function cacheOrganization(
  upstreamHost: string,
  expirationSeconds = EXPIRATION_S,
  credentials: { username: string; password: string } | null = null,
): Promise<string> {
  return (await cacheOrganizationWithId(upstreamHost, expirationSeconds, credentials)).org;
}

async function cacheOrganizationWithId(
  upstreamHost: string,
  expirationSeconds = EXPIRATION_S,
  credentials: { username: string; password: string } | null = null,
): Promise<{ org: string; id: number }> {
  const org = unique("cache");
  const id = await createNamespace(origin.registry, org, { organization: true });
  // Encrypted as Quay stores them (v0$$…), with the registry's DATABASE_SECRET_KEY.
  const fields = new FieldEncrypter(SECRET_KEY);
  await origin.direct.query(
    `INSERT INTO proxycacheconfig (organization_id, creation_date, upstream_registry, upstream_registry_username, upstream_registry_password, expiration_s, insecure)
     VALUES ($1, now(), $2, $3, $4, $5, true)`,
    [
      id,
      upstreamHost,
      credentials && (await fields.encrypt(credentials.username)),
      credentials && (await fields.encrypt(credentials.password)),
      expirationSeconds,
    ],
  );
  return { org, id };
}

async function pushUpstream(image: LayoutImage, repository: string, tag: string): Promise<void> {
  await layout.tag(tag, image.manifest);
  await clients.skopeo("copy", ["--dest-tls-verify=false", `oci:${layout.dir}:${tag}`, `docker://${upstream.host}/${repository}:${tag}`]);
}

async function get(path: string, token: string | null, method = "GET", instance: Hono = app): Promise<Response> {
  const headers: Record<string, string> = { accept: "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json" };
  if (token) headers.authorization = `Bearer ${token}`;
  return instance.request(`https://${TEST_HOST}${path}`, { method, headers });
}

function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

function sentMatching(pattern: RegExp): string[] {
  return sent.filter((line) => pattern.test(line));
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "pier-proxy-"));
  clients = await hermeticClients(work);
  layout = await createOciLayout(join(work, "layout"));
  upstream = await startUpstreamRegistry();
  const [host, port] = upstream.host.split(":");
  faulty = await startFaultProxy({ host: host!, port: Number(port) });
  origin = await startOriginRegistry("proxy", clock, {
    env: {
      PIER_PROXY_CACHE: "true",
      PIER_SSRF_ALLOWED_HOSTS: "127.0.0.1",
      PIER_QUOTA_MANAGEMENT: "true",
      PIER_DATABASE_SECRET_KEY: SECRET_KEY,
    },
  });
  const guarded = origin.registry.upstream;
  origin.registry.upstream = {
    fetch(request) {
      sent.push(`${request.method} ${new URL(request.url).pathname}`);
      return guarded.fetch(request);
    },
  };
  app = createApp(origin.registry, { lastPulls });
}, 120_000);

afterAll(async () => {
  await origin?.close();
  await faulty?.close();
  await upstream?.close();
  await rm(work, { recursive: true, force: true });
});

function faultyHost(): string {
  return new URL(faulty.urlFor(`http://${upstream.host}`)).host;
}

describe("pull-through proxy cache", () => {
  it("caches an image on its first pull as Quay writes it, then answers locally", async () => {
    const image = await layout.addImage({ layerSizes: [300_000, 1000] });
    await pushUpstream(image, "library/app", "v1");
    const org = await cacheOrganization(upstream.host);
    const name = `${org}/library/app`;
    const token = await origin.token("puller", { [name]: ["pull"] });
    sent.length = 0;

    const first = await get(`/v2/${name}/manifests/v1`, token);
    expect(first.status).toBe(200);
    expect(first.headers.get("docker-content-digest")).toBe(image.manifest.digest);
    expect(new Uint8Array(await first.arrayBuffer())).toEqual(new Uint8Array(await readFile(layout.blobPath(image.manifest.digest))));
    expect(sentMatching(/manifests/)).toEqual([`GET /v2/library/app/manifests/v1`]);

    // Quay's rows: a private repository, the tag ending after expiration_s, placeholder blobs.
    const { rows: tags } = await origin.direct.query<{ end_ms: string; start_ms: string }>(
      `SELECT t.lifetime_end_ms::text AS end_ms, t.lifetime_start_ms::text AS start_ms FROM tag t JOIN repository r ON r.id = t.repository_id
       JOIN "user" u ON u.id = r.namespace_user_id WHERE u.username = $1 AND r.name = 'library/app' AND t.name = 'v1'`,
      [org],
    );
    expect(tags).toHaveLength(1);
    expect(Number(tags[0]!.end_ms) - Number(tags[0]!.start_ms)).toBe(EXPIRATION_S * 1000);
    const placed = async (digest: string) =>
      (
        await origin.direct.query<{ placed: boolean }>(
          `SELECT EXISTS (SELECT 1 FROM imagestorageplacement p WHERE p.storage_id = s.id) AS placed FROM imagestorage s WHERE s.content_checksum = $1`,
          [digest],
        )
      ).rows[0]?.placed;
    expect(await placed(image.layers[0]!.digest)).toBe(false);

    // The layer streams from the upstream while it is stored; HEAD costs no fetch.
    const layer = image.layers[0]!;
    const head = await get(`/v2/${name}/blobs/${layer.digest}`, token, "HEAD");
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(layer.size));
    expect(sentMatching(/blobs/)).toEqual([]);
    const blob = await get(`/v2/${name}/blobs/${layer.digest}`, token);
    expect(blob.status).toBe(200);
    expect(sha256(new Uint8Array(await blob.arrayBuffer()))).toBe(layer.digest);
    expect(sentMatching(/blobs/)).toEqual([`GET /v2/library/app/blobs/${layer.digest}`]);
    // Committed once verified, just after the client's last byte.
    await expect.poll(() => placed(layer.digest), { timeout: 10_000 }).toBe(true);

    // Later pulls: local (the blob by redirect to storage), no upstream request.
    sent.length = 0;
    expect((await get(`/v2/${name}/manifests/v1`, token)).status).toBe(200);
    const again = await get(`/v2/${name}/blobs/${layer.digest}`, token);
    expect(again.status).toBe(302);
    expect(sent).toEqual([]);
  });

  it("revalidates an expired tag with one HEAD, renews it in place, and follows a tag moved upstream", async () => {
    const image = await layout.addImage({ layerSizes: [2000] });
    await pushUpstream(image, "library/moving", "stable");
    const org = await cacheOrganization(upstream.host);
    const name = `${org}/library/moving`;
    const token = await origin.token("puller", { [name]: ["pull"] });
    expect((await get(`/v2/${name}/manifests/stable`, token)).status).toBe(200);

    clock.advance((EXPIRATION_S + 1) * 1000);
    sent.length = 0;
    const renewed = await get(`/v2/${name}/manifests/stable`, token);
    expect(renewed.status).toBe(200);
    expect(renewed.headers.get("docker-content-digest")).toBe(image.manifest.digest);
    expect(sentMatching(/manifests/)).toEqual([`HEAD /v2/library/moving/manifests/stable`]);
    const { rows } = await origin.direct.query<{ n: number; end_ms: string }>(
      `SELECT count(*)::int AS n, max(t.lifetime_end_ms)::text AS end_ms FROM tag t JOIN repository r ON r.id = t.repository_id
       JOIN "user" u ON u.id = r.namespace_user_id WHERE u.username = $1 AND t.name = 'stable'`,
      [org],
    );
    expect(rows[0]).toEqual({ n: 1, end_ms: String(clock.now() + EXPIRATION_S * 1000) });

    const next = await layout.addImage({ layerSizes: [3000] });
    await pushUpstream(next, "library/moving", "stable");
    clock.advance((EXPIRATION_S + 1) * 1000);
    const moved = await get(`/v2/${name}/manifests/stable`, token);
    expect(moved.status).toBe(200);
    expect(moved.headers.get("docker-content-digest")).toBe(next.manifest.digest);
  });

  it("serves cached content while the upstream is down, and fails only never-cached content, naming the upstream", async () => {
    const image = await layout.addImage({ layerSizes: [1500] });
    await pushUpstream(image, "library/outage", "v1");
    const org = await cacheOrganization(faultyHost());
    const name = `${org}/library/outage`;
    const token = await origin.token("puller", { [name]: ["pull"], [`${org}/library/never`]: ["pull"] });
    expect((await get(`/v2/${name}/manifests/v1`, token)).status).toBe(200);
    clock.advance((EXPIRATION_S + 1) * 1000);
    faulty.down();
    try {
      const stale = await get(`/v2/${name}/manifests/v1`, token);
      expect(stale.status).toBe(200);
      expect(stale.headers.get("docker-content-digest")).toBe(image.manifest.digest);
      const never = await get(`/v2/${org}/library/never/manifests/v1`, token);
      expect(never.status).toBe(503);
      const body = (await never.json()) as { errors: { code: string; message: string }[] };
      expect(body.errors[0]!.code).toBe("UNAVAILABLE");
      expect(body.errors[0]!.message).toContain(faultyHost());
    } finally {
      faulty.pass();
    }
  });

  it("answers an image the upstream does not have with MANIFEST_UNKNOWN naming the upstream", async () => {
    const org = await cacheOrganization(upstream.host);
    const token = await origin.token("puller", { [`${org}/library/absent`]: ["pull"] });
    const response = await get(`/v2/${org}/library/absent/manifests/v1`, token);
    expect(response.status).toBe(404);
    const body = (await response.json()) as { errors: { code: string; message: string }[] };
    expect(body.errors[0]).toMatchObject({ code: "MANIFEST_UNKNOWN" });
    expect(body.errors[0]!.message).toContain(upstream.host);
  });

  it("pulls an index by tag and its children by digest, each fetched once", async () => {
    const amd = await layout.addImage({ layerSizes: [700] });
    const arm = await layout.addImage({ layerSizes: [800], platform: { os: "linux", architecture: "arm64" } });
    const index = await layout.addIndex([
      { image: amd, platform: { os: "linux", architecture: "amd64" } },
      { image: arm, platform: { os: "linux", architecture: "arm64" } },
    ]);
    await layout.tag("multi", index);
    await clients.skopeo("copy", [
      "--all",
      "--dest-tls-verify=false",
      `oci:${layout.dir}:multi`,
      `docker://${upstream.host}/library/multi:multi`,
    ]);
    const org = await cacheOrganization(upstream.host);
    const name = `${org}/library/multi`;
    const token = await origin.token("puller", { [name]: ["pull"] });
    sent.length = 0;
    const list = await get(`/v2/${name}/manifests/multi`, token);
    expect(list.status).toBe(200);
    expect(list.headers.get("docker-content-digest")).toBe(index.digest);
    for (const child of [amd, arm]) {
      const response = await get(`/v2/${name}/manifests/${child.manifest.digest}`, token);
      expect(response.status).toBe(200);
      expect(sha256(new Uint8Array(await response.arrayBuffer()))).toBe(child.manifest.digest);
      const again = await get(`/v2/${name}/manifests/${child.manifest.digest}`, token);
      expect(again.status).toBe(200);
    }
    expect(sentMatching(/manifests/).sort()).toEqual(
      [
        `GET /v2/library/multi/manifests/multi`,
        `GET /v2/library/multi/manifests/${amd.manifest.digest}`,
        `GET /v2/library/multi/manifests/${arm.manifest.digest}`,
      ].sort(),
    );
  });

  it("collapses 10 concurrent first pulls on two instances into one upstream request per object", async () => {
    // A second instance: its own isolate cache and in-process state, the same PostgreSQL, Redis and bucket.
    const other = createApp(origin.registry);
    const instance = (i: number) => (i % 2 === 0 ? app : other);
    const image = await layout.addImage({ layerSizes: [4 * 1024 * 1024] });
    await pushUpstream(image, "library/crowd", "v1");
    const org = await cacheOrganization(upstream.host);
    const name = `${org}/library/crowd`;
    const token = await origin.token("puller", { [name]: ["pull"] });
    sent.length = 0;
    const manifests = await Promise.all(Array.from({ length: 10 }, (_, i) => get(`/v2/${name}/manifests/v1`, token, "GET", instance(i))));
    for (const response of manifests) expect(response.headers.get("docker-content-digest")).toBe(image.manifest.digest);
    const layer = image.layers[0]!;
    // Read as clients do, all at once: the first reader paces the upstream (docs/proxy-cache.md).
    const blobs = await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        const response = await get(`/v2/${name}/blobs/${layer.digest}`, token, "GET", instance(i));
        return { status: response.status, digest: sha256(new Uint8Array(await response.arrayBuffer())) };
      }),
    );
    expect(blobs).toEqual(Array.from({ length: 10 }, () => ({ status: 200, digest: layer.digest })));
    expect(sentMatching(/manifests/)).toHaveLength(1);
    expect(sentMatching(/blobs/)).toHaveLength(1);
  });

  it("evicts the least recently pulled tag when a new image would pass the organization's quota", async () => {
    const images = { a: await layout.addImage({ layerSizes: [100_000] }), b: await layout.addImage({ layerSizes: [100_000] }) };
    const c = await layout.addImage({ layerSizes: [100_000] });
    for (const [tag, image] of [...Object.entries(images), ["c", c] as const]) await pushUpstream(image, "library/quota", tag);
    const bytes = (image: LayoutImage) => image.config.size + image.layers.reduce((sum, l) => sum + l.size, 0);
    const { org, id } = await cacheOrganizationWithId(upstream.host);
    await setQuota(origin.direct, id, bytes(images.a) + bytes(images.b) + bytes(c) - 1);
    const name = `${org}/library/quota`;
    const token = await origin.token("puller", { [name]: ["pull"] });
    const pullAll = async (tag: string) => {
      const manifest = await get(`/v2/${name}/manifests/${tag}`, token);
      expect(manifest.status).toBe(200);
      const image = tag === "c" ? c : images[tag as "a" | "b"];
      for (const blob of [image.config, ...image.layers]) await (await get(`/v2/${name}/blobs/${blob.digest}`, token)).arrayBuffer();
      clock.advance(1000);
    };
    await pullAll("a");
    await pullAll("b");
    await pullAll("a");
    await lastPulls.flush(origin.direct, true);
    await pullAll("c");
    const { rows } = await origin.direct.query<{ name: string }>(
      `SELECT t.name FROM tag t JOIN repository r ON r.id = t.repository_id
       WHERE r.namespace_user_id = $1 AND t.hidden = false AND (t.lifetime_end_ms IS NULL OR t.lifetime_end_ms > $2) ORDER BY t.name`,
      [id, clock.now()],
    );
    expect(rows.map((r) => r.name)).toEqual(["a", "c"]);
    sent.length = 0;
    expect((await get(`/v2/${name}/manifests/b`, token)).status).toBe(200);
    expect(sentMatching(/manifests/)).toEqual([`GET /v2/library/quota/manifests/b`]);
  });

  it("pulls through an upstream behind Basic auth (htpasswd) with the organization's stored credentials", async () => {
    const credentials = { username: "cacher", password: `pw-${crypto.randomUUID()}` };
    const guarded = await startUpstreamRegistry({ basicAuth: credentials });
    try {
      const basic = `Basic ${btoa(`${credentials.username}:${credentials.password}`)}`;
      const pushed = await pushImage(guarded.url, "team/tool", "v1", { layerSizes: [5000], authorization: basic });
      const good = await cacheOrganization(guarded.host, EXPIRATION_S, credentials);
      const token = await origin.token("puller", { [`${good}/team/tool`]: ["pull"] });
      const manifest = await get(`/v2/${good}/team/tool/manifests/v1`, token);
      expect(manifest.status).toBe(200);
      expect(new Uint8Array(await manifest.arrayBuffer())).toEqual(pushed.bytes);
      const layer = await get(`/v2/${good}/team/tool/blobs/${pushed.layers[0]!.digest}`, token);
      expect(sha256(new Uint8Array(await layer.arrayBuffer()))).toBe(pushed.layers[0]!.digest);

      const wrong = await cacheOrganization(guarded.host, EXPIRATION_S, { ...credentials, password: "not-it" });
      const refused = await get(`/v2/${wrong}/team/tool/manifests/v1`, await origin.token("puller", { [`${wrong}/team/tool`]: ["pull"] }));
      expect(refused.status).toBe(502);
      const body = (await refused.json()) as { errors: { code: string; message: string }[] };
      expect(body.errors[0]!.code).toBe("DENIED");
      expect(body.errors[0]!.message).toContain(guarded.host);
    } finally {
      await guarded.close();
    }
  });

  it("pulls through a second Pier, doing its bearer-token dance with the organization's credentials", async () => {
    const upstreamPier = await startPierUpstream("proxy-bearer");
    try {
      const org = await cacheOrganization(upstreamPier.host, EXPIRATION_S, {
        username: upstreamPier.username,
        password: upstreamPier.password,
      });
      const name = `${org}/${upstreamPier.repository}`;
      const token = await origin.token("puller", { [name]: ["pull"] });
      const manifest = await get(`/v2/${name}/manifests/latest`, token);
      expect(manifest.status).toBe(200);
      expect(manifest.headers.get("docker-content-digest")).toBe(upstreamPier.image.manifest.digest);
      for (const blob of [upstreamPier.image.config, ...upstreamPier.image.layers]) {
        const response = await get(`/v2/${name}/blobs/${blob.digest}`, token);
        expect(response.status).toBe(200);
        expect(sha256(new Uint8Array(await response.arrayBuffer()))).toBe(blob.digest);
      }
    } finally {
      await upstreamPier.close();
    }
  });
});
