/**
 * The pull path inside workerd: the edge's own adapters (Neon HTTP, Upstash REST,
 * aws4fetch S3) through the gateways to real PostgreSQL, Redis and the verifying S3
 * server, over content seeded the way Quay stores it.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { MediaType } from "../../src/core/model/media-types.js";
import type { Registry } from "../../src/core/registry.js";
import { createApp } from "../../src/http/app.js";
import { edgeRegistry } from "../../workers/edge.js";
import { s3Storage } from "../../workers/s3-storage.js";
import { loadS3Settings } from "../../src/core/config.js";
import { fakeClock } from "../support/fake-clock.js";
import { seedPullFixture, type PullFixture } from "../support/pull-fixture.js";
import { digestOf } from "../support/quay-seed.js";

const ALL_MANIFESTS = Object.values(MediaType).join(", ");
const clock = fakeClock(Date.now());
const registry: Registry = { ...edgeRegistry(env), clock };
let fx: PullFixture;

async function request(path: string, init: RequestInit & { accept?: string } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("accept", init.accept ?? ALL_MANIFESTS);
  return createApp(registry).request(`https://registry.example${path}`, { ...init, headers });
}

async function errorOf(response: Response): Promise<{ code: string; message: string; detail: unknown }> {
  const body = (await response.json()) as { errors: { code: string; message: string; detail: unknown }[] };
  expect(body.errors).toHaveLength(1);
  return body.errors[0]!;
}

beforeAll(async () => {
  fx = await seedPullFixture({ sql: registry.sql, blobs: registry.blobs }, clock.now());
}, 60_000);

describe("manifests", () => {
  it("serves an OCI image by tag with the stored bytes, type, digest, length and ETag", async () => {
    const response = await request(`/v2/${fx.app}/manifests/v1`);
    expect(response.status).toBe(200);
    const body = await response.text();
    expect(body).toBe(fx.oci.manifest.text);
    expect(response.headers.get("content-type")).toBe(MediaType.ociManifest);
    expect(response.headers.get("docker-content-digest")).toBe(fx.oci.manifest.digest);
    expect(response.headers.get("content-length")).toBe(String(new TextEncoder().encode(body).byteLength));
    expect(response.headers.get("etag")).toBe(`"${fx.oci.manifest.digest}"`);
    expect(await digestOf(new TextEncoder().encode(body))).toBe(fx.oci.manifest.digest);
  });

  it("answers HEAD with the same headers and no body", async () => {
    const response = await request(`/v2/${fx.app}/manifests/v1`, { method: "HEAD" });
    expect(response.status).toBe(200);
    expect(response.headers.get("docker-content-digest")).toBe(fx.oci.manifest.digest);
    expect(response.headers.get("content-length")).toBe(String(new TextEncoder().encode(fx.oci.manifest.text).byteLength));
    expect(await response.text()).toBe("");
  });

  it("serves by digest, a Docker schema2 image, a manifest list and a stored schema1", async () => {
    const byDigest = await request(`/v2/${fx.app}/manifests/${fx.oci.manifest.digest}`);
    expect(byDigest.status).toBe(200);
    expect(await byDigest.text()).toBe(fx.oci.manifest.text);

    const docker = await request(`/v2/${fx.app}/manifests/docker`);
    expect(docker.headers.get("content-type")).toBe(MediaType.dockerManifest);
    expect(await docker.text()).toBe(fx.docker.manifest.text);

    const list = await request(`/v2/${fx.app}/manifests/dlist`);
    expect(list.headers.get("content-type")).toBe(MediaType.dockerManifestList);
    expect(list.headers.get("docker-content-digest")).toBe(fx.dockerList.digest);

    const schema1 = await request(`/v2/${fx.app}/manifests/schema1`, { accept: MediaType.dockerSchema1 });
    expect(schema1.headers.get("content-type")).toBe(MediaType.dockerSchema1);
    expect(await schema1.text()).toBe(fx.schema1.text);
    const asJson = await request(`/v2/${fx.app}/manifests/schema1`, { accept: "application/json" });
    expect(asJson.status).toBe(200);
  });

  it("negotiates a list by Accept: the index, or its linux/amd64 image for clients that cannot take lists", async () => {
    const index = await request(`/v2/${fx.app}/manifests/multi`);
    expect(index.headers.get("content-type")).toBe(MediaType.ociIndex);
    expect(await index.text()).toBe(fx.index.text);

    const image = await request(`/v2/${fx.app}/manifests/multi`, { accept: MediaType.ociManifest });
    expect(image.status).toBe(200);
    expect(image.headers.get("docker-content-digest")).toBe(fx.amd64.manifest.digest);
    expect(await image.text()).toBe(fx.amd64.manifest.text);

    const dockerImage = await request(`/v2/${fx.app}/manifests/dlist`, { accept: MediaType.dockerManifest });
    expect(dockerImage.headers.get("docker-content-digest")).toBe(fx.dockerAmd64.manifest.digest);

    const unacceptable = await request(`/v2/${fx.app}/manifests/v1`, { accept: MediaType.dockerSchema1 });
    expect(unacceptable.status).toBe(404);
    expect((await errorOf(unacceptable)).code).toBe("MANIFEST_UNKNOWN");

    // By digest the bytes are exactly what was asked for, whatever Accept says.
    const exact = await request(`/v2/${fx.app}/manifests/${fx.index.digest}`, { accept: MediaType.ociManifest });
    expect(exact.headers.get("docker-content-digest")).toBe(fx.index.digest);
  });

  it("follows tag lifetimes: expired tags are TAG_EXPIRED, moved tags show the new row, hidden tags are invisible", async () => {
    const gone = await request(`/v2/${fx.app}/manifests/gone`);
    expect(gone.status).toBe(404);
    expect(await errorOf(gone)).toEqual({
      code: "TAG_EXPIRED",
      message: "Tag gone was deleted or has expired. To pull, revive via time machine",
      detail: {},
    });
    const moved = await request(`/v2/${fx.app}/manifests/moved`);
    expect(moved.headers.get("docker-content-digest")).toBe(fx.docker.manifest.digest);

    const hiddenTag = await request(`/v2/${fx.app}/manifests/secret-tag`);
    expect((await errorOf(hiddenTag)).code).toBe("MANIFEST_UNKNOWN");
    // A hidden tag still keeps its manifest reachable by digest (Quay: allow_hidden).
    expect((await request(`/v2/${fx.app}/manifests/${fx.hidden.manifest.digest}`)).status).toBe(200);

    const unknown = await request(`/v2/${fx.app}/manifests/never-pushed`);
    expect(unknown.status).toBe(404);
    expect(await errorOf(unknown)).toEqual({ code: "MANIFEST_UNKNOWN", message: "manifest unknown", detail: {} });
  });

  it("serves a manifest by digest only while an alive tag reaches it, directly or through a list", async () => {
    const dead = await request(`/v2/${fx.app}/manifests/${fx.dead.manifest.digest}`);
    expect(dead.status).toBe(404);
    expect((await errorOf(dead)).code).toBe("MANIFEST_UNKNOWN");
    const child = await request(`/v2/${fx.app}/manifests/${fx.arm64.manifest.digest}`);
    expect(child.status).toBe(200);
    expect(await child.text()).toBe(fx.arm64.manifest.text);
    // In another repository the same digest does not exist.
    expect((await request(`/v2/${fx.other}/manifests/${fx.oci.manifest.digest}`)).status).toBe(404);
  });

  it("stops serving a tag at its lifetime end, also from cache", async () => {
    const app = createApp(registry);
    const url = `https://registry.example/v2/${fx.app}/manifests/soon`;
    expect((await app.request(url, { headers: { accept: ALL_MANIFESTS } })).status).toBe(200);
    const saved = clock.now();
    clock.set(fx.soonEndsAt);
    try {
      const after = await app.request(url, { headers: { accept: ALL_MANIFESTS } });
      expect(after.status).toBe(404);
      expect((await errorOf(after)).code).toBe("TAG_EXPIRED");
    } finally {
      clock.set(saved);
    }
  });

  it("rejects malformed names, digests and references with 4xx errors, never 500", async () => {
    const cases: [string, number, string][] = [
      [`/v2/${fx.namespace}/App/manifests/v1`, 400, "NAME_INVALID"],
      [`/v2/${fx.namespace}//app/manifests/v1`, 400, "NAME_INVALID"],
      [`/v2/-bad/app/manifests/v1`, 400, "NAME_INVALID"],
      [`/v2/${fx.app}/manifests/sha256:xyz`, 400, "DIGEST_INVALID"],
      [`/v2/${fx.app}/manifests/sha256:${"a".repeat(63)}`, 400, "DIGEST_INVALID"],
      [`/v2/${fx.app}/manifests/.hidden`, 404, "MANIFEST_UNKNOWN"],
      [`/v2/${fx.app}/manifests/${"t".repeat(129)}`, 404, "MANIFEST_UNKNOWN"],
      [`/v2/${fx.app}/blobs/not-a-digest`, 400, "DIGEST_INVALID"],
      [`/v2/${fx.app}/referrers/sha256:1`, 400, "DIGEST_INVALID"],
      [`/v2/${fx.app}/manifests/sha512:${"0".repeat(128)}`, 404, "MANIFEST_UNKNOWN"],
    ];
    for (const [path, status, code] of cases) {
      const response = await request(path);
      expect(response.status, path).toBe(status);
      expect((await errorOf(response)).code, path).toBe(code);
    }
  });
});

describe("access and repository state", () => {
  it("challenges anonymous callers for private and unknown repositories alike", async () => {
    for (const repo of [fx.secret, `${fx.namespace}/no-such-repo`, fx.doomed]) {
      const response = await request(`/v2/${repo}/manifests/v1`);
      expect(response.status, repo).toBe(401);
      expect(response.headers.get("www-authenticate")).toBe(
        `Bearer realm="https://registry.example/v2/auth",service="registry.example",scope="repository:${repo}:pull"`,
      );
      expect(await errorOf(response)).toEqual({
        code: "UNAUTHORIZED",
        message: "access to the requested resource is not authorized",
        detail: {},
      });
    }
  });

  it("serves read-only and mirror repositories; refuses non-image repositories", async () => {
    expect((await request(`/v2/${fx.frozen}/manifests/v1`)).status).toBe(200);
    expect((await request(`/v2/${fx.mirrored}/manifests/v1`)).status).toBe(200);
    const charts = await request(`/v2/${fx.charts}/manifests/v1`);
    expect(charts.status).toBe(405);
    expect(await errorOf(charts)).toEqual({
      code: "UNSUPPORTED",
      message: "The operation is unsupported.",
      detail: "This repository is for managing application and not container images.",
    });
  });

  it("requires credentials for public repositories when anonymous access is off", async () => {
    const closed = createApp({ ...registry, config: { ...registry.config, anonymousAccess: false } });
    const response = await closed.request(`https://registry.example/v2/${fx.app}/manifests/v1`);
    expect(response.status).toBe(401);
  });
});

describe("blobs", () => {
  it("answers HEAD from metadata without touching storage", async () => {
    let storageCalls = 0;
    const blobs = new Proxy(registry.blobs, {
      get: (target, property) => {
        storageCalls++;
        return Reflect.get(target, property);
      },
    });
    const app = createApp({ ...registry, blobs });
    const layer = fx.oci.layers[0]!;
    const response = await app.request(`https://registry.example/v2/${fx.app}/blobs/${layer.digest}`, { method: "HEAD" });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-length")).toBe(String(layer.size));
    expect(response.headers.get("docker-content-digest")).toBe(layer.digest);
    expect(response.headers.get("content-type")).toBe("application/octet-stream");
    expect(storageCalls).toBe(0);
  });

  it("redirects GET to a presigned URL that the S3 server honours, for the exact bytes", async () => {
    const layer = fx.oci.layers[1]!;
    const response = await request(`/v2/${fx.app}/blobs/${layer.digest}`, { redirect: "manual" });
    expect(response.status).toBe(302);
    expect(response.headers.get("docker-content-digest")).toBe(layer.digest);
    const location = new URL(response.headers.get("location")!);
    expect(location.pathname).toBe(`/${env.S3_BUCKET}/sha256/${layer.digest.slice(7, 9)}/${layer.digest.slice(7)}`);
    expect(location.searchParams.get("X-Amz-Expires")).toBe("600");
    const object = await fetch(location);
    expect(object.status).toBe(200);
    expect(await digestOf(new Uint8Array(await object.arrayBuffer()))).toBe(layer.digest);
    // The URL is bound to its key: pointing it at another blob fails the signature.
    const other = new URL(location);
    other.pathname = other.pathname.replace(layer.digest.slice(7), fx.oci.layers[0]!.digest.slice(7));
    expect((await fetch(other)).status).toBe(403);
  });

  it("redirects through Akamai with an EdgeAuth token when configured, except for bypass networks", async () => {
    const akamaiEnv = {
      ...env,
      PIER_AKAMAI_DOMAIN: "cdn.example",
      PIER_AKAMAI_SHARED_SECRET: "0a1b2c3d",
      PIER_AKAMAI_BYPASS_CIDRS: "10.0.0.0/8",
    };
    const cdn = createApp({ ...registry, ...s3Storage(akamaiEnv, loadS3Settings(akamaiEnv)!, clock) }, { clientAddressFrom: "platform" });
    const layer = fx.oci.layers[0]!;
    const viaCdn = await cdn.request(`https://registry.example/v2/${fx.app}/blobs/${layer.digest}`, {
      headers: { "cf-connecting-ip": "203.0.113.9" },
    });
    expect(viaCdn.status).toBe(302);
    const location = new URL(viaCdn.headers.get("location")!);
    expect(location.host).toBe("cdn.example");
    expect(location.pathname).toBe(`/${env.S3_BUCKET}/sha256/${layer.digest.slice(7, 9)}/${layer.digest.slice(7)}`);
    expect(location.searchParams.get("akamai_signature")).toMatch(/^exp=\d+~hmac=[0-9a-f]{64}$/);
    expect(location.searchParams.get("namespace")).toBe(fx.namespace);
    const bypass = await cdn.request(`https://registry.example/v2/${fx.app}/blobs/${layer.digest}`, {
      headers: { "cf-connecting-ip": "10.1.2.3" },
    });
    expect(new URL(bypass.headers.get("location")!).origin).toBe(new URL(env.S3_ENDPOINT!).origin);
  });

  it("serves blobs linked by uploads (also expired links) and sha512 digests", async () => {
    const response = await request(`/v2/${fx.app}/blobs/${fx.sha512Blob.digest}`, { method: "HEAD" });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-length")).toBe(String(fx.sha512Blob.size));
  });

  it("keeps blobs of dead manifests downloadable, and blobs of other repositories or without placement unknown", async () => {
    expect((await request(`/v2/${fx.app}/blobs/${fx.dead.layers[0]!.digest}`, { method: "HEAD" })).status).toBe(200);
    for (const digest of [fx.otherImage.layers[0]!.digest, fx.unplacedBlob.digest, `sha256:${"0".repeat(64)}`]) {
      const response = await request(`/v2/${fx.app}/blobs/${digest}`);
      expect(response.status, digest).toBe(404);
      expect(await errorOf(response)).toEqual({ code: "BLOB_UNKNOWN", message: "blob unknown to registry", detail: { digest } });
    }
  });

  it("challenges anonymous blob reads of private repositories", async () => {
    const response = await request(`/v2/${fx.secret}/blobs/${fx.oci.layers[0]!.digest}`);
    expect(response.status).toBe(401);
  });
});

describe("tags/list", () => {
  it("lists alive, visible tags in lexical order and pages with n, last and a relative Link", async () => {
    const first = await request(`/v2/${fx.many}/tags/list?n=10`);
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ name: fx.many, tags: Array.from({ length: 10 }, (_, i) => `t${String(i).padStart(2, "0")}`) });
    expect(first.headers.get("link")).toBe(`</v2/${fx.many}/tags/list?n=10&last=t09>; rel="next"`);

    const second = await request(`/v2/${fx.many}/tags/list?n=10&last=t09`);
    expect(((await second.json()) as { tags: string[] }).tags[0]).toBe("t10");
    const third = await request(`/v2/${fx.many}/tags/list?n=10&last=t19`);
    expect(await third.json()).toEqual({ name: fx.many, tags: ["t20", "t21", "t22", "t23", "t24"] });
    expect(third.headers.get("link")).toBeNull();
  });

  it("handles page-size boundaries as Quay does", async () => {
    const exact = await request(`/v2/${fx.many}/tags/list?n=25`);
    expect(((await exact.json()) as { tags: string[] }).tags).toHaveLength(25);
    expect(exact.headers.get("link")).toBeNull();
    const zero = await request(`/v2/${fx.many}/tags/list?n=0`);
    expect(await zero.json()).toEqual({ name: fx.many, tags: [] });
    for (const n of ["abc", "1000", "-5"]) {
      const response = await request(`/v2/${fx.many}/tags/list?n=${n}`);
      expect(response.status, n).toBe(200);
      expect(((await response.json()) as { tags: string[] }).tags.length, n).toBe(n === "-5" ? 0 : 25);
    }
    const afterAll = await request(`/v2/${fx.many}/tags/list?last=zzz`);
    expect(await afterAll.json()).toEqual({ name: fx.many, tags: [] });
  });

  it("challenges for private repositories and lists nothing of unknown ones", async () => {
    expect((await request(`/v2/${fx.secret}/tags/list`)).status).toBe(401);
    expect((await request(`/v2/${fx.namespace}/nope/tags/list`)).status).toBe(401);
  });
});

describe("_catalog", () => {
  it("is empty for anonymous callers unless the catalog is public", async () => {
    const response = await request(`/v2/_catalog`);
    expect(await response.json()).toEqual({ repositories: [] });
  });

  it("lists public image repositories only, in lexical pages, when the catalog is public", async () => {
    const app = createApp({ ...registry, config: { ...registry.config, publicCatalog: true } });
    const names: string[] = [];
    let path: string | null = `/v2/_catalog?n=3&last=${fx.namespace}`;
    while (path !== null && names.length < 50) {
      const response: Response = await app.request(`https://registry.example${path}`);
      const page = (await response.json()) as { repositories: string[] };
      names.push(...page.repositories.filter((n) => n.startsWith(`${fx.namespace}/`)));
      if (page.repositories.some((n) => !n.startsWith(`${fx.namespace}/`))) break;
      path = /^<([^>]+)>; rel="next"$/.exec(response.headers.get("link") ?? "")?.[1] ?? null;
    }
    expect(names).toEqual([fx.app, fx.frozen, fx.many, fx.mirrored, fx.other]);
  });
});

describe("referrers", () => {
  it("lists manifests with the subject and the fallback tag's entries, once each", async () => {
    const response = await request(`/v2/${fx.app}/referrers/${fx.oci.manifest.digest}`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe(MediaType.ociIndex);
    expect(response.headers.get("oci-filters-applied")).toBeNull();
    const index = (await response.json()) as {
      schemaVersion: number;
      mediaType: string;
      manifests: { digest: string; artifactType?: string }[];
    };
    expect(index.schemaVersion).toBe(2);
    expect(index.mediaType).toBe(MediaType.ociIndex);
    const byDigest = Object.fromEntries(index.manifests.map((m) => [m.digest, m]));
    expect(Object.keys(byDigest).sort()).toEqual([fx.sbom.digest, fx.signature.digest, fx.fallbackReferrer.digest].sort());
    expect(byDigest[fx.sbom.digest]).toEqual({
      mediaType: MediaType.ociManifest,
      digest: fx.sbom.digest,
      size: new TextEncoder().encode(fx.sbom.text).byteLength,
      artifactType: "application/vnd.example.sbom",
      annotations: { "org.example.kind": "sbom" },
    });
    expect(byDigest[fx.signature.digest]!.artifactType).toBe("application/vnd.example.sig");
    // A referrer pushed without a tag stays fetchable by digest.
    expect((await request(`/v2/${fx.app}/manifests/${fx.signature.digest}`)).status).toBe(200);
  });

  it("filters by artifactType and says so", async () => {
    const response = await request(`/v2/${fx.app}/referrers/${fx.oci.manifest.digest}?artifactType=application/vnd.example.sbom`);
    expect(response.headers.get("oci-filters-applied")).toBe("artifactType");
    const index = (await response.json()) as { manifests: { digest: string }[] };
    expect(index.manifests.map((m) => m.digest)).toEqual([fx.sbom.digest]);
  });

  it("answers an empty index for an unknown subject", async () => {
    const response = await request(`/v2/${fx.app}/referrers/sha256:${"1".repeat(64)}`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] });
  });
});
