/**
 * Hostile input on /v2 against the origin's app on real PostgreSQL, Redis and S3:
 * NUL and other control characters, overlong values and percent-encoded names are
 * refused with the right 4xx and OCI error body, never a 500 from the database.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPushScene, type PushScene } from "../support/origin-registry.js";

let scene: PushScene;

beforeAll(async () => {
  scene = await startPushScene("hostile");
});

afterAll(async () => {
  await scene?.origin.close();
});

async function expectRegistryError(response: Response, status: number, code: string): Promise<void> {
  const body = (await response.json()) as { errors: { code: string }[] };
  expect({ status: response.status, code: body.errors[0]?.code }).toEqual({ status, code });
}

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

describe("repository names on the raw path", () => {
  it("serves the name written plainly", async () => {
    expect((await scene.call("GET", `/v2/${scene.repo}/tags/list`)).status).toBe(200);
  });

  const cases: [string, (ns: string) => string][] = [
    ["an encoded slash", (ns) => `/v2/${ns}%2Fapp/tags/list`],
    ["an encoded lower-case slash", (ns) => `/v2/${ns}%2fapp/tags/list`],
    ["an encoded letter", (ns) => `/v2/${ns}/%61pp/tags/list`],
    ["an encoded slash on a blob", (ns) => `/v2/${ns}%2Fapp/blobs/sha256:${"0".repeat(64)}`],
    ["an encoded slash on a manifest", (ns) => `/v2/${ns}%2Fapp/manifests/latest`],
    ["an encoded slash on an upload", (ns) => `/v2/${ns}%2Fapp/blobs/uploads/`],
    ["a NUL", (ns) => `/v2/${ns}/app%00/tags/list`],
    ["a control character", (ns) => `/v2/${ns}/a%01pp/tags/list`],
    ["a double dot (outside the spec's grammar)", (ns) => `/v2/${ns}/a..pp/tags/list`],
    ["a trailing dot", (ns) => `/v2/${ns}/app./tags/list`],
    ["an overlong name", (ns) => `/v2/${ns}/${"a".repeat(300)}/tags/list`],
  ];
  it.each(cases)("refuses %s with 400 NAME_INVALID", async (_, path) => {
    const method = path(scene.namespace).endsWith("uploads/") ? "POST" : "GET";
    await expectRegistryError(await scene.call(method, path(scene.namespace)), 400, "NAME_INVALID");
  });
});

describe("references and query parameters", () => {
  const cases: [string, (repo: string) => string, number, string][] = [
    ["a tag with a NUL", (repo) => `/v2/${repo}/manifests/latest%00`, 404, "MANIFEST_UNKNOWN"],
    ["a digest with a NUL", (repo) => `/v2/${repo}/manifests/sha256:%00`, 400, "DIGEST_INVALID"],
    ["a blob digest with a NUL", (repo) => `/v2/${repo}/blobs/sha256:${"0".repeat(63)}%00`, 400, "DIGEST_INVALID"],
    ["tags/list last=NUL", (repo) => `/v2/${repo}/tags/list?last=%00`, 400, "INVALID_REQUEST"],
    ["tags/list last with a NUL inside", (repo) => `/v2/${repo}/tags/list?last=v1%00x`, 400, "INVALID_REQUEST"],
    ["tags/list last with a control character", (repo) => `/v2/${repo}/tags/list?last=%1B`, 400, "INVALID_REQUEST"],
    ["tags/list last with DEL", (repo) => `/v2/${repo}/tags/list?last=a%7F`, 400, "INVALID_REQUEST"],
    ["tags/list overlong last", (repo) => `/v2/${repo}/tags/list?last=${"a".repeat(600)}`, 400, "INVALID_REQUEST"],
    ["catalog last=NUL", () => `/v2/_catalog?last=%00`, 400, "INVALID_REQUEST"],
    ["catalog last with a NUL inside", () => `/v2/_catalog?n=5&last=ns%00/app`, 400, "INVALID_REQUEST"],
    [
      "referrers artifactType with a NUL",
      (repo) => `/v2/${repo}/referrers/sha256:${"0".repeat(64)}?artifactType=a%00`,
      400,
      "INVALID_REQUEST",
    ],
  ];
  it.each(cases)("refuses %s", async (_, path, status, code) => {
    await expectRegistryError(await scene.call("GET", path(scene.repo)), status, code);
  });

  it("still pages with an ordinary last", async () => {
    const response = await scene.call("GET", `/v2/${scene.repo}/tags/list?last=v1`);
    expect(response.status).toBe(200);
  });
});

describe("Basic credentials at /v2/auth", () => {
  const cases: [string, string, string][] = [
    ["a NUL in the username", "us\0er", "secret"],
    ["a lone NUL username", "\0", "secret"],
    ["a control character in the username", "us\x01er", "secret"],
    ["a NUL in a robot name", "org+ro\0bot", "secret"],
    ["a NUL in an app token", "$app", `${"a".repeat(59)}\0${"b".repeat(10)}`],
    ["a NUL in an access token", "$token", `${"a".repeat(31)}\0${"b".repeat(10)}`],
    ["a NUL in an OAuth token", "$oauthtoken", "tok\0en"],
  ];
  it.each(cases)("answers %s with 401 and the challenge", async (_, username, password) => {
    const basic = `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
    const response = await scene.call("GET", `/v2/auth?service=registry.test&scope=repository:${scene.repo}:pull`, {
      token: null,
      headers: { authorization: basic },
    });
    expect(response.headers.get("www-authenticate")).toMatch(/^Bearer realm=/);
    await expectRegistryError(response, 401, "UNAUTHORIZED");
  });
});

describe("token request parameters", () => {
  const cases: [string, string, number, string][] = [
    ["a scope with a NUL", "scope=repository:ns/app%00:pull", 400, "INVALID_REQUEST"],
    ["a scope whose name has a control character", "scope=repository:ns/a%01pp:pull", 400, "INVALID_REQUEST"],
    ["a scope with an encoded slash in the name", "scope=repository:ns%2F..%2Fapp:pull", 400, "NAME_INVALID"],
  ];
  it.each(cases)("refuses %s", async (_, query, status, code) => {
    await expectRegistryError(await scene.call("GET", `/v2/auth?service=registry.test&${query}`, { token: null }), status, code);
  });
});

describe("bearer tokens", () => {
  const kids: [string, string][] = [
    ["a NUL kid", "\0"],
    ["a kid with a NUL inside", "key\0id"],
    ["a kid with a control character", "key\x07id"],
    ["an overlong kid", "k".repeat(10_000)],
  ];
  it.each(kids)("refuses %s with 401 and Quay's body", async (_, kid) => {
    const token = `${base64url({ alg: "RS256", typ: "JWT", kid })}.${base64url({ sub: "x" })}.${"A".repeat(43)}`;
    const response = await scene.call("GET", `/v2/${scene.repo}/tags/list`, { token });
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toMatch(/^Bearer realm=/);
    expect(await response.json()).toEqual({ error: expect.any(String) });
  });
});
