import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { s3BlobStore } from "../../src/adapters/blob/s3.js";
import { akamaiSigner, type AkamaiOptions } from "../../src/adapters/cdn/akamai.js";
import type { S3Settings } from "../../src/core/config.js";
import type { RedirectRequest, RedirectSigner } from "../../src/core/ports/redirect-signer.js";
import { blobKey } from "../../src/core/storage-layout.js";
import { fakeClock } from "../support/fake-clock.js";

/** Akamai's own Node EdgeAuth generator (akamai-edgeauth), an implementation independent of ours. */
type EdgeAuthClass = new (options: { key: string; endTime: number; escapeEarly: boolean; algorithm: string }) => {
  generateURLToken(url: string): string;
};
const EdgeAuth = createRequire(import.meta.url)("akamai-edgeauth") as EdgeAuthClass;

const SECRET = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
const START = Date.UTC(2026, 0, 1);
const START_S = START / 1000;
const digest = "sha256:ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12";
const key = blobKey(digest)!;
const settings: S3Settings = {
  endpoint: "https://s3.eu-west-1.amazonaws.com",
  bucket: "quay-blobs",
  region: "eu-west-1",
  accessKeyId: "AKIDPIERTEST",
  secretAccessKey: "pier-test-secret",
  storagePath: "/datastorage/registry",
};
const request: RedirectRequest = {
  key,
  method: "GET",
  expiresInSeconds: 600,
  clientIp: "203.0.113.7",
  namespace: "acme",
  repository: "web",
  username: "alice",
};

/** The real S3 presigner, remembering what it was asked and what it answered. */
function recordingS3(s3Settings: S3Settings = settings) {
  const inner = s3BlobStore(s3Settings);
  const calls: { request: RedirectRequest; url: string | null }[] = [];
  const signer: RedirectSigner = {
    async sign(r) {
      const url = await inner.sign(r);
      calls.push({ request: r, url });
      return url;
    },
  };
  return { signer, calls, last: () => calls[calls.length - 1]!.url! };
}

function setup(overrides: Partial<AkamaiOptions> = {}, s3Settings?: S3Settings) {
  const s3 = recordingS3(s3Settings);
  const clock = fakeClock(START);
  const signer = akamaiSigner({
    s3: s3.signer,
    domain: "cdn.example.com",
    sharedSecretHex: SECRET,
    region: "eu-west-1",
    clock,
    ...overrides,
  });
  return { s3, clock, signer };
}

/** An Akamai edge's check: the token is unexpired and equals the one EdgeAuth makes for this path and key. */
function edgeAccepts(token: string, path: string, nowS: number, secretHex = SECRET): boolean {
  const exp = Number(/^exp=(\d+)~hmac=[0-9a-f]{64}$/.exec(token)?.[1]);
  if (!exp || nowS >= exp) return false;
  return new EdgeAuth({ key: secretHex, endTime: exp, escapeEarly: true, algorithm: "sha256" }).generateURLToken(path) === token;
}

describe("akamai EdgeAuth signer", () => {
  it("moves the S3 presigned URL onto the Akamai host and appends Quay's parameters in order", async () => {
    const { s3, signer } = setup();
    const url = new URL((await signer.sign(request))!);
    const s3Url = new URL(s3.last());

    expect(s3.calls[0]!.request).toEqual({ ...request, expiresInSeconds: 3600 });
    expect(s3Url.searchParams.get("X-Amz-Expires")).toBe("3600");
    expect(url.origin).toBe("https://cdn.example.com");
    expect(url.pathname).toBe(`/quay-blobs/datastorage/registry/${key}`);
    expect(url.pathname).toBe(s3Url.pathname);
    const token = url.searchParams.get("akamai_signature")!;
    expect(url.href).toBe(
      `https://cdn.example.com${s3Url.pathname}${s3Url.search}&region=eu-west-1&namespace=acme&username=alice&repo_name=web&akamai_signature=${token}`,
    );
    expect([...url.searchParams.keys()]).toEqual([
      ...s3Url.searchParams.keys(),
      "region",
      "namespace",
      "username",
      "repo_name",
      "akamai_signature",
    ]);
    expect(token).toMatch(new RegExp(`^exp=${START_S + 900}~hmac=[0-9a-f]{64}$`));
  });

  it("leaves out absent metric parameters and escapes the ones it sends", async () => {
    const { signer } = setup();
    const anonymous = new URL((await signer.sign({ ...request, username: undefined }))!);
    expect([...anonymous.searchParams.keys()].slice(-4)).toEqual(["region", "namespace", "repo_name", "akamai_signature"]);
    const robot = new URL((await signer.sign({ ...request, username: "acme+builder" }))!);
    expect(robot.search).toContain("&username=acme%2Bbuilder&");
    expect(robot.searchParams.get("username")).toBe("acme+builder");
  });

  it("issues a token Akamai's EdgeAuth accepts for that path only, with that key only, until it expires", async () => {
    const { signer, clock } = setup();
    const url = new URL((await signer.sign(request))!);
    const token = url.searchParams.get("akamai_signature")!;

    expect(edgeAccepts(token, url.pathname, START_S)).toBe(true);
    expect(edgeAccepts(token, url.pathname, START_S + 899)).toBe(true);
    expect(edgeAccepts(token, url.pathname.replace("/ab12", "/ab13"), START_S)).toBe(false);
    expect(edgeAccepts(token, "/quay-blobs/datastorage/registry/sha256/cd/cd34", START_S)).toBe(false);
    expect(edgeAccepts(token, url.pathname, START_S + 901)).toBe(false);
    expect(edgeAccepts(token, url.pathname, START_S, "0a1b2c3d4e5f60718293a4b5c6d7e8f8")).toBe(false);

    clock.advance(120_000);
    const later = new URL((await signer.sign(request))!).searchParams.get("akamai_signature")!;
    expect(later).toMatch(new RegExp(`^exp=${START_S + 1020}~`));
    expect(edgeAccepts(later, url.pathname, START_S + 1000)).toBe(true);
  });

  it("honours a custom window for the token while S3 stays presigned for Quay's hour", async () => {
    const { s3, signer } = setup({ windowSeconds: 60 });
    const url = new URL((await signer.sign(request))!);
    expect(url.searchParams.get("akamai_signature")).toMatch(new RegExp(`^exp=${START_S + 60}~`));
    expect(new URL(s3.last()).searchParams.get("X-Amz-Expires")).toBe("3600");
  });

  it("escapes the signed path like Quay's EdgeAuth (Python quote_plus, lower-case escapes)", async () => {
    // Expected HMAC computed with Python's urllib.parse.quote_plus and hmac/hashlib, the
    // functions Quay's EdgeAuth uses: "~", "!", "(" and ")" are where JavaScript escaping differs.
    const { signer } = setup({}, { ...settings, storagePath: "quay~data/it's (eu)!*" });
    const url = new URL((await signer.sign(request))!);
    expect(url.pathname).toBe(`/quay-blobs/quay~data/it's%20(eu)!*/${key}`);
    expect(url.searchParams.get("akamai_signature")).toBe(
      `exp=${START_S + 900}~hmac=a0c9428dd82b4a580469948ca13b6c9af829ea0af54c882912d38ec6b20f4a6b`,
    );
  });

  it("returns the plain S3 URL to IPv4 and IPv6 clients inside the bypass networks", async () => {
    const { s3, signer } = setup({ bypassCidrs: ["10.0.0.0/8", "2001:db8:100::/48"] });
    for (const clientIp of ["10.2.3.4", "::ffff:10.2.3.4", "2001:db8:100::7"]) {
      const url = await signer.sign({ ...request, clientIp });
      expect(url, clientIp).toBe(s3.last());
      expect(new URL(url!).host, clientIp).toBe("s3.eu-west-1.amazonaws.com");
    }
    for (const clientIp of ["11.0.0.1", "9.255.255.255", "2001:db8:101::7", "2001:db9::1"]) {
      expect(new URL((await signer.sign({ ...request, clientIp }))!).host, clientIp).toBe("cdn.example.com");
    }
  });

  it("returns the plain S3 URL when the client's address is unknown, as Quay does", async () => {
    const { s3, signer } = setup();
    expect(await signer.sign({ ...request, clientIp: undefined })).toBe(s3.last());
  });

  it("sends CDN-specific namespaces through Akamai even from a bypass network", async () => {
    const { s3, signer } = setup({ bypassCidrs: ["10.0.0.0/8", "2001:db8:100::/48"], cdnSpecificNamespaces: ["partner"] });
    for (const clientIp of ["10.2.3.4", "2001:db8:100::7"]) {
      const url = new URL((await signer.sign({ ...request, clientIp, namespace: "partner" }))!);
      expect(url.host, clientIp).toBe("cdn.example.com");
      expect(url.searchParams.get("namespace")).toBe("partner");
      expect(await signer.sign({ ...request, clientIp })).toBe(s3.last());
    }
  });

  it("passes null through when the S3 signer would rather stream", async () => {
    const streamOnly: RedirectSigner = { sign: async () => null };
    const signer = akamaiSigner({
      s3: streamOnly,
      domain: "cdn.example.com",
      sharedSecretHex: SECRET,
      region: "eu-west-1",
      clock: fakeClock(),
    });
    expect(await signer.sign(request)).toBeNull();
    expect(await signer.sign({ ...request, clientIp: undefined })).toBeNull();
  });

  it("refuses malformed options without echoing the secret", () => {
    const base = { s3: recordingS3().signer, domain: "cdn.example.com", sharedSecretHex: SECRET, region: "eu-west-1", clock: fakeClock() };
    for (const sharedSecretHex of ["", "abc", "zz11", "not-hex-secret"]) {
      expect(() => akamaiSigner({ ...base, sharedSecretHex }), sharedSecretHex).toThrow(
        /^akamai shared secret must be a non-empty, even-length hex string$/,
      );
    }
    for (const domain of ["https://cdn.example.com", "cdn.example.com/path", "user@cdn.example.com", ""]) {
      expect(() => akamaiSigner({ ...base, domain }), domain).toThrow(/host name/);
    }
    expect(() => akamaiSigner({ ...base, bypassCidrs: ["10.0.0.0/33"] })).toThrow(/bypass CIDR/);
    expect(() => akamaiSigner({ ...base, windowSeconds: 0 })).toThrow(/window/);
  });
});
