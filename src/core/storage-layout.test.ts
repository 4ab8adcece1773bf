import { describe, expect, it } from "vitest";
import { blobKey, legacyBlobKey, uploadKey } from "./storage-layout.js";

describe("Quay's storage layout", () => {
  const hex = "ab".padEnd(64, "0");

  it("puts content-addressed blobs at <alg>/<first two hex>/<hex>, with no extra folders", () => {
    expect(blobKey(`sha256:${hex}`)).toBe(`sha256/ab/${hex}`);
    expect(blobKey(`sha512:${"0f".padEnd(128, "1")}`)).toBe(`sha512/0f/${"0f".padEnd(128, "1")}`);
  });

  it("turns '+' and '.' in the algorithm into folders and keeps hex case", () => {
    expect(blobKey("tarsum+sha256:ABCDEF")).toBe("tarsum/sha256/AB/ABCDEF");
    expect(blobKey("a.b:12")).toBe("a/b/12/12");
  });

  it("zero-pads a one-character prefix as Quay's zfill does", () => {
    expect(blobKey("sha256:a")).toBe("sha256/0a/a");
  });

  it("refuses digests Quay could not have stored", () => {
    expect(blobKey("sha256")).toBeNull();
    expect(blobKey("sha256:xyz")).toBeNull();
    expect(blobKey("../etc:00")).toBeNull();
    expect(blobKey("")).toBeNull();
  });

  it("places uploads and legacy storages as Quay does", () => {
    expect(uploadKey("6f1c")).toBe("uploads/6f1c");
    expect(legacyBlobKey("u-1")).toBe("sharedimages/u-1/layer");
  });
});
