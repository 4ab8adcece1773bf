/**
 * sha512 content at the edge inside workerd (Web Crypto hashes the manifests): a mixed
 * image (sha256 config, sha512 layer) pushed and read by its sha512 digest, its
 * referrers, a sha512 mount, the `?digest-algorithm=` a session opened here hands to
 * the origin, and malformed digests refused.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { issueRegistryToken } from "../../src/core/auth/registry-tokens.js";
import { createInstanceKey } from "../../src/core/auth/service-keys.js";
import { MediaType } from "../../src/core/model/media-types.js";
import { systemClock } from "../../src/core/ports/clock.js";
import worker, { edgeRegistry } from "../../workers/edge.js";
import { createNamespace, createRepository, digestOf, storeBlob, unique, type StoredBlob } from "../support/quay-seed.js";

const HOST = "registry.example";
const edgeEnv = { ...env, PIER_ORIGIN_URL: "https://origin.registry.example" };
const base = edgeRegistry(env);
const user = unique("edge512");
const repository = `${user}/app`;
const source = `${user}/source`;
let token: string;
let config: StoredBlob;
let layer: StoredBlob;
let manifest: string;

async function edgeFetch(method: string, path: string, init: { body?: string; headers?: Record<string, string> } = {}): Promise<Response> {
  const request = new Request(`https://${HOST}${path}`, {
    method,
    body: init.body ?? null,
    headers: { authorization: `Bearer ${token}`, ...init.headers },
  });
  return worker.fetch(request, edgeEnv, { waitUntil() {}, passThroughOnException() {} } as never);
}

async function errorCode(response: Response): Promise<string> {
  return ((await response.json()) as { errors: { code: string }[] }).errors[0]!.code;
}

async function linkUploaded(repositoryId: number, blob: StoredBlob): Promise<void> {
  await base.sql.query(
    `INSERT INTO uploadedblob (repository_id, blob_id, uploaded_at, expires_at) VALUES ($1, $2, now(), now() + interval '1 hour')`,
    [repositoryId, blob.storageId],
  );
}

function descriptor(mediaType: string, blob: StoredBlob) {
  return { mediaType, digest: blob.digest, size: blob.size };
}

beforeAll(async () => {
  const target = { sql: base.sql, blobs: base.blobs };
  const key = await createInstanceKey(base.sql, systemClock, "edge-sha512-test");
  const namespaceId = await createNamespace(target, user);
  const appId = await createRepository(target, namespaceId, "app", { visibility: "private" });
  const sourceId = await createRepository(target, namespaceId, "source", { visibility: "private" });
  token = await issueRegistryToken(key.signing, systemClock, {
    audience: HOST,
    subject: user,
    access: [
      { type: "repository", name: repository, actions: ["pull", "push"] },
      { type: "repository", name: source, actions: ["pull"] },
    ],
    context: {},
  });
  config = await storeBlob(target, new TextEncoder().encode(JSON.stringify({ architecture: "amd64", os: "linux", user })));
  layer = await storeBlob(target, crypto.getRandomValues(new Uint8Array(2048)), { algorithm: "sha512" });
  await linkUploaded(appId, config);
  await linkUploaded(sourceId, layer);
  manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: descriptor("application/vnd.oci.image.config.v1+json", config),
    layers: [descriptor("application/vnd.oci.image.layer.v1.tar+gzip", layer)],
  });
});

describe("sha512 at the edge", () => {
  it("mounts a sha512 layer, then takes a mixed image by its sha512 digest and serves it by that digest", async () => {
    expect(layer.digest).toMatch(/^sha512:[0-9a-f]{128}$/);
    const mounted = await edgeFetch("POST", `/v2/${repository}/blobs/uploads/?mount=${layer.digest}&from=${source}`);
    expect(mounted.status).toBe(201);
    expect(mounted.headers.get("Docker-Content-Digest")).toBe(layer.digest);
    const blob = await edgeFetch("HEAD", `/v2/${repository}/blobs/${layer.digest}`);
    expect(blob.status).toBe(200);
    expect(blob.headers.get("Content-Length")).toBe("2048");

    const digest = await digestOf(new TextEncoder().encode(manifest), "sha512");
    const wrong = await edgeFetch("PUT", `/v2/${repository}/manifests/sha512:${"0".repeat(128)}`, {
      body: manifest,
      headers: { "content-type": MediaType.ociManifest },
    });
    expect(wrong.status).toBe(400);
    expect(await errorCode(wrong)).toBe("DIGEST_INVALID");
    const pushed = await edgeFetch("PUT", `/v2/${repository}/manifests/${digest}`, {
      body: manifest,
      headers: { "content-type": MediaType.ociManifest },
    });
    expect(pushed.status).toBe(201);
    expect(pushed.headers.get("Docker-Content-Digest")).toBe(digest);
    const { rows } = await base.sql.query<{ digest: string }>(
      `SELECT m.digest FROM manifest m JOIN repository r ON r.id = m.repository_id
       JOIN "user" u ON u.id = r.namespace_user_id WHERE u.username = $1 AND r.name = 'app'`,
      [user],
    );
    expect(rows).toEqual([{ digest }]);

    const read = await edgeFetch("GET", `/v2/${repository}/manifests/${digest}`, { headers: { accept: MediaType.ociManifest } });
    expect(read.status).toBe(200);
    expect(read.headers.get("Docker-Content-Digest")).toBe(digest);
    expect(await read.text()).toBe(manifest);
  });

  it("lists a referrer of a sha512 subject", async () => {
    const subject = await digestOf(new TextEncoder().encode(manifest), "sha512");
    const referrer = JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      artifactType: "application/vnd.example.signature",
      config: descriptor("application/vnd.oci.image.config.v1+json", config),
      layers: [],
      subject: { mediaType: MediaType.ociManifest, digest: subject, size: manifest.length },
    });
    const referrerDigest = await digestOf(new TextEncoder().encode(referrer), "sha512");
    const pushed = await edgeFetch("PUT", `/v2/${repository}/manifests/${referrerDigest}`, {
      body: referrer,
      headers: { "content-type": MediaType.ociManifest },
    });
    expect(pushed.status).toBe(201);
    expect(pushed.headers.get("OCI-Subject")).toBe(subject);
    const listed = await edgeFetch("GET", `/v2/${repository}/referrers/${subject}`);
    expect(listed.status).toBe(200);
    expect(((await listed.json()) as { manifests: { digest: string }[] }).manifests.map((m) => m.digest)).toEqual([referrerDigest]);
  });

  it("records ?digest-algorithm=sha512 on the session it opens, and refuses unknown algorithms", async () => {
    const opened = await edgeFetch("POST", `/v2/${repository}/blobs/uploads/?digest-algorithm=sha512`);
    expect(opened.status).toBe(202);
    const uuid = opened.headers.get("Docker-Upload-UUID")!;
    const { rows } = await base.sql.query<{ storage_metadata: string }>(`SELECT storage_metadata FROM blobupload WHERE uuid = $1`, [uuid]);
    expect(JSON.parse(rows[0]!.storage_metadata)).toEqual({ chunks: [], digest_algorithm: "sha512" });
    const refused = await edgeFetch("POST", `/v2/${repository}/blobs/uploads/?digest-algorithm=md5`);
    expect(refused.status).toBe(400);
    expect(await errorCode(refused)).toBe("DIGEST_INVALID");
  });

  it("refuses malformed digests of either algorithm, and other algorithms, on blob, manifest and referrers reads", async () => {
    const hex = layer.digest.slice("sha512:".length);
    for (const digest of [`sha512:${hex.toUpperCase()}`, `sha512:${hex.slice(0, 64)}`, `sha256:${hex}`, `md5:${hex.slice(0, 32)}`]) {
      const blob = await edgeFetch("GET", `/v2/${repository}/blobs/${digest}`);
      expect([digest, blob.status]).toEqual([digest, 400]);
      expect(await errorCode(blob)).toBe("DIGEST_INVALID");
      const manifest = await edgeFetch("GET", `/v2/${repository}/manifests/${digest}`);
      expect([digest, manifest.status]).toEqual([digest, 400]);
      expect(await errorCode(manifest)).toBe("DIGEST_INVALID");
      const referrers = await edgeFetch("GET", `/v2/${repository}/referrers/${digest}`);
      expect([digest, referrers.status]).toEqual([digest, 400]);
      expect(await errorCode(referrers)).toBe("DIGEST_INVALID");
    }
  });
});
