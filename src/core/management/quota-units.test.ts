import { describe, expect, it } from "vitest";
import { formatLimit, LIMIT_PATTERN, parseLimit } from "./quota-units.js";

describe("bitmath limit strings", () => {
  it("reads binary and decimal units as bitmath's parse_string_unsafe does", () => {
    expect(parseLimit("10 GiB")).toBe(10n * 1024n ** 3n);
    expect(parseLimit("1Ki")).toBe(1024n);
    expect(parseLimit("5M")).toBe(5_000_000n);
    expect(parseLimit("5 MB")).toBe(5_000_000n);
    expect(parseLimit("3B")).toBe(3n);
    expect(parseLimit("7")).toBe(7n);
    expect(parseLimit("2 TiB")).toBe(2n * 1024n ** 4n);
    expect(parseLimit("1.5 GiB")).toBeNull();
    expect(parseLimit("ten GiB")).toBeNull();
    expect(parseLimit("5i")).toBeNull();
  });

  it("matches Quay's schema pattern", () => {
    for (const ok of ["10 GiB", "1GiB", "5M", "7", "12 KB"]) expect(LIMIT_PATTERN.test(ok)).toBe(true);
    for (const bad of ["10  GiB", "1.5 GiB", "GiB", "10 gib", "-1 GiB", "10 GiB "]) expect(LIMIT_PATTERN.test(bad)).toBe(false);
  });

  it("prints the best binary prefix with one decimal, ties to even as Python's format", () => {
    expect(formatLimit(500n)).toBe("500.0 Byte");
    expect(formatLimit(1024n)).toBe("1.0 KiB");
    expect(formatLimit(1280n)).toBe("1.2 KiB");
    expect(formatLimit(1331n)).toBe("1.3 KiB");
    expect(formatLimit(1382n)).toBe("1.3 KiB");
    expect(formatLimit(1408n)).toBe("1.4 KiB");
    expect(formatLimit(10n * 1024n ** 3n)).toBe("10.0 GiB");
    expect(formatLimit(524_288_000n)).toBe("500.0 MiB");
    expect(formatLimit(9223372036854775807n)).toBe("8.0 EiB");
  });
});
