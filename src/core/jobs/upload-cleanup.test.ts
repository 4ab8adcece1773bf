import { describe, expect, it } from "vitest";
import { uploadObjectKeys } from "./upload-cleanup.js";

describe("uploadObjectKeys", () => {
  it("covers a local upload's own object", () => {
    expect(uploadObjectKeys({ uuid: "u1", storage_metadata: "{}" })).toEqual(["uploads/u1"]);
    expect(uploadObjectKeys({ uuid: "u1", storage_metadata: null })).toEqual(["uploads/u1"]);
  });

  it("adds the chunk objects of S3-style metadata", () => {
    const metadata = JSON.stringify({
      chunks: [
        ["uploads/c-1", 0, 5],
        ["uploads/c-2", 5, 5],
      ],
    });
    expect(uploadObjectKeys({ uuid: "u1", storage_metadata: metadata })).toEqual(["uploads/u1", "uploads/c-1", "uploads/c-2"]);
  });

  it("never names keys outside uploads/ even when the metadata does", () => {
    const metadata = JSON.stringify({ chunks: [["sha256/ab/abcdef", 0, 5], ["uploads/../sha256/x", 0, 1], [42, 0, 1], "junk"] });
    expect(uploadObjectKeys({ uuid: "u1", storage_metadata: metadata })).toEqual(["uploads/u1"]);
    expect(uploadObjectKeys({ uuid: "u1", storage_metadata: "not json" })).toEqual(["uploads/u1"]);
  });
});
