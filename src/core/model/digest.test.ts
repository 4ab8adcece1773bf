import { describe, expect, it } from "vitest";
import { isSupportedAlgorithm, parseDigest, parseSupportedDigest } from "./digest.js";

describe("parseDigest", () => {
  const sha256 = `sha256:${"a".repeat(64)}`;
  const sha512 = `sha512:${"b".repeat(128)}`;

  it("accepts well-formed sha256 and sha512 digests", () => {
    expect(parseDigest(sha256)).toEqual({ algorithm: "sha256", hex: "a".repeat(64), text: sha256 });
    expect(parseDigest(sha512)?.algorithm).toBe("sha512");
  });

  it("rejects wrong lengths, upper-case hex and missing parts for the registered algorithms", () => {
    expect(parseDigest(`sha256:${"a".repeat(63)}`)).toBeNull();
    expect(parseDigest(`sha256:${"A".repeat(64)}`)).toBeNull();
    expect(parseDigest(`sha512:${"b".repeat(64)}`)).toBeNull();
    expect(parseDigest("sha256:")).toBeNull();
    expect(parseDigest(":abc")).toBeNull();
    expect(parseDigest("latest")).toBeNull();
  });

  it("parses other algorithms by the OCI grammar without claiming to verify them", () => {
    expect(parseDigest("multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8")?.algorithm).toBe("multihash+base58");
    expect(isSupportedAlgorithm("multihash+base58")).toBe(false);
    expect(isSupportedAlgorithm("sha512")).toBe(true);
  });

  it("keeps only sha256 and sha512 digests for requests", () => {
    expect(parseSupportedDigest(sha512)).toEqual({ algorithm: "sha512", hex: "b".repeat(128), text: sha512 });
    expect(parseSupportedDigest(sha256)?.algorithm).toBe("sha256");
    expect(parseSupportedDigest(`md5:${"c".repeat(32)}`)).toBeNull();
    expect(parseSupportedDigest(`sha512:${"B".repeat(128)}`)).toBeNull();
  });
});
