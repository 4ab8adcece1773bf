import { access, mkdir, mkdtemp, readdir, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FsBlobError, fsBlobStore } from "../../src/adapters/blob/fs.js";
import { runBlobStoreSuite } from "../suites/blob-store.js";

runBlobStoreSuite("filesystem", async () => {
  const root = await mkdtemp(join(tmpdir(), "pier-blob-fs-"));
  return { store: fsBlobStore({ root }), prefix: "", cleanup: () => rm(root, { recursive: true, force: true }) };
});

runBlobStoreSuite("filesystem with fsync", async () => {
  const root = await mkdtemp(join(tmpdir(), "pier-blob-fs-"));
  return { store: fsBlobStore({ root, fsync: true }), prefix: "nested/prefix/", cleanup: () => rm(root, { recursive: true, force: true }) };
});

describe("filesystem blob store", () => {
  it("refuses keys that would leave its root or reach its hidden folder", async () => {
    const parent = await mkdtemp(join(tmpdir(), "pier-blob-fs-"));
    const root = join(parent, "root");
    const store = fsBlobStore({ root });
    try {
      for (const bad of ["../escaped", "a/../../escaped", "/etc/passwd", "a/./b", "a//b", "nul\0byte", "", ".pier/tmp/x", "trailing/"]) {
        await expect(store.put(bad, new Blob(["x"]).stream(), 1), bad).rejects.toBeInstanceOf(FsBlobError);
        await expect(store.get(bad), bad).rejects.toMatchObject({ code: "InvalidKey" });
        await expect(store.stat(bad), bad).rejects.toMatchObject({ code: "InvalidKey" });
        await expect(store.delete(bad), bad).rejects.toMatchObject({ code: "InvalidKey" });
        await expect(store.copy("fine", bad), bad).rejects.toMatchObject({ code: "InvalidKey" });
        await expect(store.createMultipart(bad), bad).rejects.toMatchObject({ code: "InvalidKey" });
      }
      await expect(access(join(parent, "escaped"))).rejects.toMatchObject({ code: "ENOENT" });
      // Every call was refused before touching the disk: not even the root was created.
      expect(await readdir(parent)).toEqual([]);
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });

  it("keeps Quay's local layout: one file per key, temp and multipart files hidden from listings", async () => {
    const root = await mkdtemp(join(tmpdir(), "pier-blob-fs-"));
    const store = fsBlobStore({ root });
    try {
      await store.put("sha256/ab/abcdef", new Blob(["layer"]).stream(), 5);
      const uploadId = await store.createMultipart("uploads/pending");
      await store.uploadPart("uploads/pending", uploadId, 1, new Blob(["part"]).stream(), 4);
      expect((await readdir(root)).sort()).toEqual([".pier", "sha256"]);
      expect(await readdir(join(root, "sha256/ab"))).toEqual(["abcdef"]);
      expect((await store.list("")).keys.map((k) => k.key)).toEqual(["sha256/ab/abcdef"]);
      await expect(store.uploadPart("uploads/other", uploadId, 2, new Blob(["x"]).stream(), 1)).rejects.toMatchObject({
        code: "NoSuchUpload",
      });
      await expect(store.uploadPart("uploads/pending", "../../escape", 1, new Blob(["x"]).stream(), 1)).rejects.toMatchObject({
        code: "NoSuchUpload",
      });
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it("sweeps temp files and multipart uploads a killed writer left, once untouched for the grace period, and keeps fresh ones", async () => {
    const root = await mkdtemp(join(tmpdir(), "pier-blob-fs-"));
    const store = fsBlobStore({ root });
    try {
      const tmp = join(root, ".pier/tmp");
      await mkdir(tmp, { recursive: true });
      await writeFile(join(tmp, "killed-mid-put"), new Uint8Array(1000));
      await writeFile(join(tmp, "being-written"), new Uint8Array(10));
      const abandoned = await store.createMultipart("uploads/abandoned");
      await store.uploadPart("uploads/abandoned", abandoned, 1, new Blob(["part"]).stream(), 4);
      const live = await store.createMultipart("uploads/live");
      const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
      await utimes(join(tmp, "killed-mid-put"), twoHoursAgo, twoHoursAgo);
      for (const name of await readdir(join(root, ".pier/multipart", abandoned))) {
        await utimes(join(root, ".pier/multipart", abandoned, name), twoHoursAgo, twoHoursAgo);
      }
      await utimes(join(root, ".pier/multipart", abandoned), twoHoursAgo, twoHoursAgo);

      const oneHourAgo = new Date(Date.now() - 3600_000);
      expect(await store.sweepAbandoned!(oneHourAgo, 100)).toBe(2);
      expect(await readdir(tmp)).toEqual(["being-written"]);
      expect(await readdir(join(root, ".pier/multipart"))).toEqual([live]);
      expect(await store.sweepAbandoned!(oneHourAgo, 100)).toBe(0);
      await store.uploadPart("uploads/live", live, 1, new Blob(["ok"]).stream(), 2);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
