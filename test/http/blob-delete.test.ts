/**
 * `DELETE /v2/<name>/blobs/<digest>` unlinks a blob from the repository: 202, then GET and
 * HEAD answer BLOB_UNKNOWN there while the bytes stay for garbage collection; refused
 * while a manifest of the repository references the blob.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MediaType } from "../../src/core/model/media-types.js";
import { blobKey } from "../../src/core/storage-layout.js";
import { startPushScene, type PushScene } from "../support/origin-registry.js";

let scene: PushScene;

beforeAll(async () => {
  scene = await startPushScene("blobdelete");
}, 60_000);
afterAll(async () => {
  await scene?.origin.close();
});

const digestOf = (bytes: Uint8Array) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

async function upload(text: string): Promise<{ digest: string; size: number }> {
  const bytes = new TextEncoder().encode(text);
  const digest = digestOf(bytes);
  const response = await scene.call("POST", `/v2/${scene.repo}/blobs/uploads/?digest=${digest}`, {
    body: bytes,
    headers: { "content-type": "application/octet-stream", "content-length": String(bytes.byteLength) },
  });
  expect(response.status).toBe(201);
  return { digest, size: bytes.byteLength };
}

async function errorCode(response: Response): Promise<string> {
  return ((await response.json()) as { errors: { code: string }[] }).errors[0]!.code;
}

describe("blob DELETE", () => {
  it("unlinks an uploaded blob: 202, then GET and HEAD answer BLOB_UNKNOWN; the bytes stay for GC", async () => {
    const blob = await upload(`unlinked ${crypto.randomUUID()}`);
    expect((await scene.call("HEAD", `/v2/${scene.repo}/blobs/${blob.digest}`)).status).toBe(200);
    expect((await scene.call("DELETE", `/v2/${scene.repo}/blobs/${blob.digest}`)).status).toBe(202);
    for (const method of ["GET", "HEAD"]) {
      const response = await scene.call(method, `/v2/${scene.repo}/blobs/${blob.digest}`);
      expect(response.status).toBe(404);
      if (method === "GET") expect(await errorCode(response)).toBe("BLOB_UNKNOWN");
    }
    expect(await scene.origin.registry.blobs.stat(blobKey(blob.digest)!)).toEqual({ size: blob.size });
    const again = await scene.call("DELETE", `/v2/${scene.repo}/blobs/${blob.digest}`);
    expect(again.status).toBe(404);
    expect(await errorCode(again)).toBe("BLOB_UNKNOWN");
  });

  it("refuses while a manifest of the repository references the blob", async () => {
    const config = await upload(`{"config":"${crypto.randomUUID()}"}`);
    const layer = await upload(`layer ${crypto.randomUUID()}`);
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: config.digest, size: config.size },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: layer.digest, size: layer.size }],
    });
    const put = await scene.call("PUT", `/v2/${scene.repo}/manifests/v1`, {
      body: manifest,
      headers: { "content-type": MediaType.ociManifest },
    });
    expect(put.status).toBe(201);
    const refused = await scene.call("DELETE", `/v2/${scene.repo}/blobs/${layer.digest}`);
    expect(refused.status).toBe(405);
    const body = (await refused.json()) as { errors: { code: string; message: string }[] };
    expect(body.errors[0]!.code).toBe("UNSUPPORTED");
    expect(body.errors[0]!.message).toContain(`blob ${layer.digest} is referenced by a manifest of ${scene.repo}`);
    expect((await scene.call("HEAD", `/v2/${scene.repo}/blobs/${layer.digest}`)).status).toBe(200);
  });

  it("needs a push grant, and a well-formed digest", async () => {
    const blob = await upload(`guarded ${crypto.randomUUID()}`);
    const reader = await scene.origin.token("reader", { [scene.repo]: ["pull"] });
    const denied = await scene.call("DELETE", `/v2/${scene.repo}/blobs/${blob.digest}`, { token: reader });
    expect(denied.status).toBe(401);
    expect(denied.headers.get("www-authenticate")).toContain(`scope="repository:${scene.repo}:pull,push"`);
    const malformed = await scene.call("DELETE", `/v2/${scene.repo}/blobs/sha256:nothex`);
    expect(malformed.status).toBe(400);
    expect(await errorCode(malformed)).toBe("DIGEST_INVALID");
    expect((await scene.call("HEAD", `/v2/${scene.repo}/blobs/${blob.digest}`)).status).toBe(200);
  });
});
