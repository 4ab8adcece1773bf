import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startS3Server, type S3Server } from "../../scripts/gateways/s3.js";
import { S3Error, s3BlobStore } from "../../src/adapters/blob/s3.js";
import type { S3Settings } from "../../src/core/config.js";
import { blobKey } from "../../src/core/storage-layout.js";
import { runBlobStoreSuite } from "../suites/blob-store.js";
import { startFaultProxy } from "../support/fault-proxy.js";

const credentials = { accessKeyId: "PIERTESTKEY", secretAccessKey: randomUUID() };

async function localS3(): Promise<{ server: S3Server; root: string; settings: S3Settings; close(): Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), "pier-blob-s3-"));
  const server = await startS3Server({ root, bucket: "pier", region: "us-east-1", ...credentials });
  return {
    server,
    root,
    settings: { endpoint: server.endpoint, bucket: "pier", region: "us-east-1", ...credentials },
    async close() {
      await server.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

runBlobStoreSuite("s3 (aws4fetch) against the verifying S3 server", async () => {
  const s3 = await localS3();
  return { store: s3BlobStore(s3.settings), prefix: "", cleanup: s3.close };
});

runBlobStoreSuite("s3 with Quay's storage_path", async () => {
  const s3 = await localS3();
  return { store: s3BlobStore({ ...s3.settings, storagePath: "/datastorage/registry" }), prefix: "suite/", cleanup: s3.close };
});

runBlobStoreSuite(
  "s3 with the S3 server behind a fault proxy, 1 s bound",
  async () => {
    const s3 = await localS3();
    const proxy = await startFaultProxy({ host: "127.0.0.1", port: Number(new URL(s3.settings.endpoint).port) });
    const store = s3BlobStore({ ...s3.settings, endpoint: proxy.urlFor(s3.settings.endpoint) }, { timeoutMs: 1_000 });
    return {
      store,
      prefix: "",
      frozen: { freeze: () => proxy.freeze(), pass: () => proxy.pass(), timeoutMs: 1_000 },
      async cleanup() {
        await proxy.close();
        await s3.close();
      },
    };
  },
  { faultInjection: true },
);

describe("s3 blob store", () => {
  let s3: Awaited<ReturnType<typeof localS3>>;
  const digest = "sha256:ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12";
  const key = blobKey(digest)!;

  beforeAll(async () => {
    s3 = await localS3();
  });
  afterAll(() => s3?.close());

  it.each([
    [undefined, key],
    ["", key],
    ["/datastorage/registry", `datastorage/registry/${key}`],
    ["registry/", `registry/${key}`],
  ])("with storage_path %j stores a blob at Quay's object key %s", async (storagePath, objectKey) => {
    const store = s3BlobStore({ ...s3.settings, storagePath });
    await store.put(key, new Blob(["layer bytes"]).stream(), 11);
    expect(await readFile(join(s3.root, objectKey), "utf8")).toBe("layer bytes");
    expect((await store.list("sha256/ab/")).keys.map((k) => k.key)).toEqual([key]);
    const url = new URL((await store.sign({ key, method: "GET", expiresInSeconds: 600 }))!);
    expect(url.pathname).toBe(`/pier/${objectKey}`);
    await store.delete(key);
  });

  it("reports S3's error code and status for refused requests", async () => {
    const wrongSecret = s3BlobStore({ ...s3.settings, secretAccessKey: "not-the-secret" });
    const put = wrongSecret.put("k", new Blob(["x"]).stream(), 1);
    await expect(put).rejects.toBeInstanceOf(S3Error);
    await expect(put).rejects.toMatchObject({ status: 403, code: "SignatureDoesNotMatch" });
    // HEAD replies carry no body, so the code comes from the status.
    await expect(wrongSecret.stat("k")).rejects.toMatchObject({ status: 403, code: "Forbidden" });

    const wrongBucket = s3BlobStore({ ...s3.settings, bucket: "elsewhere" });
    await expect(wrongBucket.list("")).rejects.toMatchObject({ status: 404, code: "NoSuchBucket" });

    const store = s3BlobStore(s3.settings);
    await expect(store.copy("missing/source", "copy/target")).rejects.toMatchObject({
      status: 404,
      code: "NoSuchKey",
      key: "missing/source",
    });
    const uploadId = await store.createMultipart("mpu/target");
    await store.uploadPart("mpu/target", uploadId, 1, new Blob(["abc"]).stream(), 3);
    await expect(store.completeMultipart("mpu/target", uploadId, [{ partNumber: 1, etag: '"00"' }])).rejects.toMatchObject({
      status: 400,
      code: "InvalidPart",
    });
    await expect(store.uploadPart("mpu/target", "no-such-upload", 1, new Blob(["abc"]).stream(), 3)).rejects.toMatchObject({
      status: 404,
      code: "NoSuchUpload",
    });
  });

  it("refuses keys the URL parser would rewrite, and presign lifetimes S3 would refuse", async () => {
    const store = s3BlobStore(s3.settings);
    await expect(store.stat("a/../b")).rejects.toThrow(TypeError);
    await expect(store.sign({ key, method: "GET", expiresInSeconds: 604_801 })).rejects.toThrow(RangeError);
    await expect(store.sign({ key, method: "GET", expiresInSeconds: 0 })).rejects.toThrow(RangeError);
  });
});
