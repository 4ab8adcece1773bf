/**
 * Hostile input on /api/v1 against real PostgreSQL: NUL and other control characters in
 * path parameters, query parameters, JSON bodies and Basic credentials are refused
 * with Quay's error JSON and a 4xx, never a 500 from the database; nothing is written.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { basicAuth, startApiHarness, type ApiHarness, type Reply } from "../support/api-harness.js";
import { unique } from "../support/quay-seed.js";

let api: ApiHarness;
const org = unique("hostileorg");

beforeAll(async () => {
  api = await startApiHarness("apihostile");
  const created = await api.call("POST", "/api/v1/organization/", { auth: api.root.basic, body: { name: org } });
  expect(created.status).toBe(201);
  const repo = await api.call("POST", "/api/v1/repository", {
    auth: api.root.basic,
    body: { namespace: org, repository: "app", visibility: "private", description: "" },
  });
  expect(repo.status).toBe(201);
});
afterAll(() => api?.close());

function expectInvalidRequest(reply: Reply): void {
  expect({ status: reply.status, type: reply.json?.error_type }).toEqual({ status: 400, type: "invalid_request" });
  expect(reply.json.detail).toEqual(expect.any(String));
}

describe("path and query parameters", () => {
  const cases: [string, string, () => string][] = [
    ["an organization name with a NUL", "GET", () => `/api/v1/organization/%00`],
    ["an organization name with a NUL inside", "GET", () => `/api/v1/organization/ab%00cd`],
    ["an organization name with a control character", "GET", () => `/api/v1/organization/ab%0Acd`],
    ["a robot short name with a NUL", "GET", () => `/api/v1/organization/${org}/robots/bot%00`],
    ["a user robot short name with a NUL", "PUT", () => `/api/v1/user/robots/bot%00`],
    ["a team name with a NUL", "GET", () => `/api/v1/organization/${org}/team/own%00ers/members`],
    ["a team member with a NUL", "PUT", () => `/api/v1/organization/${org}/team/owners/members/us%00er`],
    ["a repository with a NUL", "GET", () => `/api/v1/repository/${org}/app%00`],
    ["a repository path with an encoded NUL and slash", "GET", () => `/api/v1/repository/${org}%2F%00`],
    ["a permission user with a NUL", "GET", () => `/api/v1/repository/${org}/app/permissions/user/a%00b`],
    ["a permission team with a NUL", "DELETE", () => `/api/v1/repository/${org}/app/permissions/team/a%00b`],
    ["a namespace query with a NUL", "GET", () => `/api/v1/repository?namespace=${org}%00`],
    ["a next_page query with a NUL", "GET", () => `/api/v1/repository?namespace=${org}&next_page=%00`],
    ["a repo_kind query with a control character", "GET", () => `/api/v1/repository?namespace=${org}&repo_kind=image%1B`],
  ];
  it.each(cases)("refuses %s with 400", async (_, method, path) => {
    expectInvalidRequest(await api.call(method, path(), { auth: api.root.basic }));
  });

  it("refuses them for anonymous callers too", async () => {
    expectInvalidRequest(await api.call("GET", `/api/v1/organization/%00`));
  });
});

describe("JSON bodies", () => {
  const cases: [string, string, () => string, unknown][] = [
    ["an organization name with a NUL", "POST", () => "/api/v1/organization/", { name: "ab\u0000cd" }],
    ["an organization e-mail with a NUL", "POST", () => "/api/v1/organization/", { name: unique("org"), email: "a\u0000@b.c" }],
    [
      "a repository name with a NUL",
      "POST",
      () => "/api/v1/repository",
      { namespace: org, repository: "ap\u0000p", visibility: "public", description: "" },
    ],
    [
      "a repository namespace with a NUL",
      "POST",
      () => "/api/v1/repository",
      { namespace: `${org}\u0000`, repository: "app2", visibility: "public", description: "" },
    ],
    [
      "a repository description with a NUL",
      "POST",
      () => "/api/v1/repository",
      { namespace: org, repository: "described", visibility: "public", description: "hello\u0000world" },
    ],
    ["a team description with a NUL", "PUT", () => `/api/v1/organization/${org}/team/devs`, { role: "member", description: "\u0000" }],
    ["a robot description with a NUL", "PUT", () => `/api/v1/organization/${org}/robots/builder`, { description: "b\u0000" }],
    [
      "a robot's nested metadata with a NUL",
      "PUT",
      () => `/api/v1/organization/${org}/robots/builder2`,
      { unstructured_metadata: { key: ["x", "y\u0000"] } },
    ],
    ["an overlong organization e-mail", "POST", () => "/api/v1/organization/", { name: unique("org"), email: `${"a".repeat(300)}@b.c` }],
    ["a key with a NUL", "PUT", () => `/api/v1/organization/${org}/robots/builder3`, { unstructured_metadata: { "k\u0000": 1 } }],
  ];
  it.each(cases)("refuses %s with 400 and writes nothing", async (_, method, path, body) => {
    expectInvalidRequest(await api.call(method, path(), { auth: api.root.basic, body }));
  });

  it("left no rows behind", async () => {
    const { rows } = await api.sql.query<{ name: string }>(
      `SELECT name FROM repository WHERE name IN ('described', 'app2')
       UNION ALL SELECT username FROM "user" WHERE username LIKE $1
       UNION ALL SELECT t.name FROM team t JOIN "user" o ON o.id = t.organization_id WHERE o.username = $2 AND t.name = 'devs'`,
      [`${org}+builder%`, org],
    );
    expect(rows).toEqual([]);
  });

  it("still takes descriptions with newlines and tabs", async () => {
    const reply = await api.call("PUT", `/api/v1/organization/${org}/team/devs`, {
      auth: api.root.basic,
      body: { role: "member", description: "line one\n\tline two" },
    });
    expect(reply.status).toBe(200);
  });
});

describe("Basic credentials", () => {
  const cases: [string, string, string][] = [
    ["a NUL in the username", "ro\u0000ot", "secret"],
    ["a control character in the username", "ro\u0001ot", "secret"],
    ["a NUL in the password", "root", "se\u0000cret"],
    ["a NUL in an app token", "$app", `${"a".repeat(59)}\u0000${"b".repeat(10)}`],
  ];
  it.each(cases)("treats %s as no credentials: 401 from an endpoint that needs a caller", async (_, username, password) => {
    const reply = await api.call("GET", "/api/v1/user/robots", { auth: basicAuth(username, password) });
    expect({ status: reply.status, type: reply.json?.error_type }).toEqual({ status: 401, type: "invalid_token" });
  });
});
