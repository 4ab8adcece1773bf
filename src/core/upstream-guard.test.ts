import { describe, expect, it } from "vitest";
import { assertResolvedAddresses, assertUpstreamUrl, inNetworks, parseAddress, parseCidr, UpstreamBlockedError } from "./upstream-guard.js";

const open = { allowedHosts: [] as string[] };
const check =
  (url: string, policy = open) =>
  () =>
    assertUpstreamUrl(new URL(url), policy);

describe("upstream SSRF guard", () => {
  it("allows public registries over http and https", () => {
    for (const url of [
      "https://registry-1.docker.io/v2/",
      "https://quay.io/v2/",
      "http://8.8.8.8:5000/v2/",
      "https://[2606:4700::1111]/v2/",
    ]) {
      expect(check(url), url).not.toThrow();
    }
  });

  it("refuses loopback, private, link-local, metadata and reserved addresses in every spelling", () => {
    for (const url of [
      "http://127.0.0.1/",
      "http://127.1/",
      "http://2130706433/",
      "http://0x7f000001/",
      "http://0.0.0.0/",
      "http://10.1.2.3/",
      "http://172.20.0.1/",
      "http://192.168.1.1/",
      "http://100.64.0.1/",
      "http://169.254.169.254/latest/meta-data/",
      "http://224.0.0.1/",
      "http://255.255.255.255/",
      "http://[::1]/",
      "http://[::]/",
      "http://[fe80::1]/",
      "http://[fd00::1]/",
      "http://[::ffff:127.0.0.1]/",
      "http://[::ffff:7f00:1]/",
      "http://[64:ff9b::a9fe:a9fe]/",
    ]) {
      expect(check(url), url).toThrow(UpstreamBlockedError);
    }
  });

  it("refuses internal names, single-label names, other schemes and embedded credentials", () => {
    for (const url of [
      "http://localhost:5000/",
      "http://LOCALHOST./",
      "http://registry.localhost/",
      "http://printer.local/",
      "http://metadata.google.internal/",
      "http://kubernetes.default.svc/",
      "http://intranet/",
      "ftp://quay.io/",
      "file:///etc/passwd",
      "https://user:pass@quay.io/",
    ]) {
      expect(check(url), url).toThrow(UpstreamBlockedError);
    }
  });

  it("lets the operator allow hosts and networks explicitly", () => {
    const policy = { allowedHosts: ["localhost", "127.0.0.1", "10.0.0.0/8", "fd00::/8"] };
    expect(check("http://localhost:5000/", policy)).not.toThrow();
    expect(check("http://127.0.0.1:5000/", policy)).not.toThrow();
    expect(check("http://10.9.8.7/", policy)).not.toThrow();
    expect(check("http://[fd12::1]/", policy)).not.toThrow();
    expect(check("http://127.0.0.2/", policy)).toThrow(UpstreamBlockedError);
    expect(check("http://192.168.0.1/", policy)).toThrow(UpstreamBlockedError);
  });

  it("checks what a public-looking name resolves to", () => {
    expect(() => assertResolvedAddresses("registry.example", ["93.184.216.34"], open)).not.toThrow();
    expect(() => assertResolvedAddresses("registry.example", ["93.184.216.34", "10.0.0.1"], open)).toThrow(/non-public/);
    expect(() => assertResolvedAddresses("registry.example", ["::1"], open)).toThrow(UpstreamBlockedError);
    expect(() => assertResolvedAddresses("registry.example", ["10.0.0.1"], { allowedHosts: ["registry.example"] })).not.toThrow();
  });

  it("parses IP literals and leaves names alone", () => {
    expect(parseAddress("1.2.3.4")).toEqual({ version: 4, value: 0x01020304n });
    expect(parseAddress("[::1]")).toEqual({ version: 6, value: 1n });
    expect(parseAddress("quay.io")).toBeNull();
    expect(parseAddress("1.2.3.256")).toBeNull();
    expect(parseAddress("1::2::3")).toBeNull();
  });

  it("parses CIDRs strictly", () => {
    expect(parseCidr("10.0.0.0/8")).toEqual({ version: 4, value: 0x0a000000n, bits: 8 });
    expect(parseCidr(" 2001:db8::/32 ")).toEqual({ version: 6, value: 0x20010db8n << 96n, bits: 32 });
    expect(parseCidr("192.0.2.7")).toEqual({ version: 4, value: 0xc0000207n, bits: 32 });
    for (const bad of ["10.0.0.0/", "10.0.0.0/33", "::/129", "10.0.0.0/8/8", "10.0.0.0/x", "quay.io/8", ""]) {
      expect(parseCidr(bad), bad).toBeNull();
    }
  });

  it("tells whether an address lies in a set of networks", () => {
    const networks = ["10.0.0.0/8", "192.0.2.7", "2001:db8:100::/48"].map((cidr) => parseCidr(cidr)!);
    for (const ip of ["10.0.0.1", "10.255.255.255", "192.0.2.7", "2001:db8:100::1", "[2001:db8:100:ffff::1]", "::ffff:10.1.2.3"]) {
      expect(inNetworks(ip, networks), ip).toBe(true);
    }
    for (const ip of ["11.0.0.1", "9.255.255.255", "192.0.2.8", "2001:db8:101::1", "::a01:203", "quay.io", ""]) {
      expect(inNetworks(ip, networks), ip).toBe(false);
    }
    expect(inNetworks("10.0.0.1", [])).toBe(false);
    expect(inNetworks("2001:db8::1", [parseCidr("::/0")!])).toBe(true);
    expect(inNetworks("203.0.113.9", [parseCidr("0.0.0.0/0")!])).toBe(true);
  });
});
