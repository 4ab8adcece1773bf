/**
 * Who may call /api/v1 and how errors look: Quay's OAuth access tokens (validated the way
 * Quay validates them, scopes capping roles), Basic credentials of users (a Pier
 * extension), anonymous callers, and Quay's API error JSON for every failure.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { API_HOST, basicAuth, bearer, startApiHarness, type ApiHarness, type TestUser } from "../support/api-harness.js";

let api: ApiHarness;
let alice: TestUser;

beforeAll(async () => {
  api = await startApiHarness("apiauth");
  alice = await api.user("alice");
});
afterAll(() => api?.close());

function apiError(type: string, status: number, detail: string, extra: Record<string, unknown> = {}) {
  return {
    ...extra,
    detail,
    error_message: detail,
    error_type: type,
    title: type,
    type: `https://${API_HOST}/api/v1/error/${type}`,
    status,
  };
}

describe("GET /api/v1/user/", () => {
  it("answers anonymous callers with Quay's 401 and session_required", async () => {
    const reply = await api.call("GET", "/api/v1/user/");
    expect(reply.status).toBe(401);
    expect(reply.json).toEqual(apiError("invalid_token", 401, "Requires authentication", { session_required: false }));
    expect(reply.headers.get("content-type")).toMatch(/^application\/json/);
  });

  it("describes the user signed in with Basic credentials", async () => {
    const reply = await api.call("GET", "/api/v1/user/", { auth: alice.basic });
    expect(reply.status).toBe(200);
    expect(reply.json).toMatchObject({
      anonymous: false,
      username: alice.username,
      can_create_repo: true,
      is_me: true,
      verified: true,
      email: `${alice.username}@users.test`,
      logins: [],
      invoice_email: false,
      invoice_email_address: null,
      preferred_namespace: false,
      tag_expiration_s: 1209600,
      prompts: [],
      is_free_account: true,
      has_password_set: true,
      organizations: [],
    });
    expect(reply.json.avatar).toEqual({
      name: alice.username,
      hash: expect.stringMatching(/^[0-9a-f]{32}$/),
      color: expect.stringMatching(/^#/),
      kind: "user",
    });
    expect(reply.json).not.toHaveProperty("super_user");
  });

  it("computes avatars as Quay does (MD5 of the e-mail, colour from its first two hex digits)", async () => {
    const reply = await api.call("GET", "/api/v1/user/", { auth: alice.basic });
    const { createHash } = await import("node:crypto");
    const hash = createHash("md5").update(`${alice.username}@users.test`).digest("hex");
    expect(reply.json.avatar.hash).toBe(hash);
  });

  it("marks superusers", async () => {
    const reply = await api.call("GET", "/api/v1/user", { auth: api.root.basic });
    expect(reply.status).toBe(200);
    expect(reply.json.super_user).toBe(true);
  });

  it("treats a wrong password as anonymous, and never as the user", async () => {
    const reply = await api.call("GET", "/api/v1/user/", { auth: basicAuth(alice.username, "wrong") });
    expect(reply.status).toBe(401);
    expect(reply.json.error_type).toBe("invalid_token");
  });
});

describe("OAuth access tokens", () => {
  it("authenticate as the granting user", async () => {
    const token = await api.oauthToken(alice, "user:admin repo:admin org:admin repo:create");
    const reply = await api.call("GET", "/api/v1/user/", { auth: bearer(token) });
    expect(reply.status).toBe(200);
    expect(reply.json.username).toBe(alice.username);
  });

  it("are refused when expired, altered, unknown or without a code", async () => {
    const expired = await api.oauthToken(alice, "user:read", { expiresAt: new Date(Date.now() - 1000) });
    const valid = await api.oauthToken(alice, "user:read");
    const altered = valid.slice(0, -1) + (valid.endsWith("A") ? "B" : "A");
    for (const token of [expired, altered, "Z".repeat(40), valid.slice(0, 20)]) {
      const reply = await api.call("GET", "/api/v1/user/", { auth: bearer(token) });
      expect(reply.status, token).toBe(401);
    }
  });

  it("cap the caller's roles by their scopes", async () => {
    const readOnly = await api.oauthToken(alice, "user:read");
    const me = await api.call("GET", "/api/v1/user/", { auth: bearer(readOnly) });
    expect(me.status).toBe(200);
    // user:read is not user:admin: the private settings are left out.
    expect(me.json).not.toHaveProperty("email");
    const create = await api.call("POST", "/api/v1/organization/", { auth: bearer(readOnly), body: { name: "scopedorg" } });
    expect(create.status).toBe(403);
    expect(create.json).toEqual(apiError("insufficient_scope", 403, "Unauthorized"));
  });

  it("with an unknown scope grant nothing", async () => {
    const token = await api.oauthToken(alice, "user:admin not:a:scope");
    expect((await api.call("GET", "/api/v1/user/", { auth: bearer(token) })).status).toBe(401);
  });

  it("record the application in audit metadata", async () => {
    const token = await api.oauthToken(alice, "user:admin");
    const name = `oauthorg${Date.now()}`;
    expect((await api.call("POST", "/api/v1/organization/", { auth: bearer(token), body: { name } })).status).toBe(201);
    const { rows } = await api.sql.query<{ metadata_json: string }>(
      `SELECT l.metadata_json FROM logentry3 l JOIN logentrykind k ON k.id = l.kind_id JOIN "user" u ON u.id = l.account_id
       WHERE k.name = 'org_create' AND u.username = $1`,
      [name],
    );
    const metadata = JSON.parse(rows[0]!.metadata_json);
    expect(metadata).toMatchObject({ namespace: name, oauth_token_application: "test application" });
    expect(metadata.oauth_token_id).toEqual(expect.any(Number));
    expect(metadata.oauth_token_application_id).toMatch(/^client/);
  });
});

describe("errors under /api/v1", () => {
  it("use Quay's JSON for unknown endpoints", async () => {
    const reply = await api.call("GET", "/api/v1/no/such/thing", { auth: alice.basic });
    expect(reply.status).toBe(404);
    expect(reply.json).toEqual(apiError("not_found", 404, "Not Found"));
  });

  it("turn malformed and missing bodies into 400s, never 500s", async () => {
    for (const raw of ["{not json", "", "[]", "null", '"text"', "42"]) {
      const reply = await api.call("POST", "/api/v1/organization/", { auth: alice.basic, raw });
      expect(reply.status, raw).toBe(400);
      expect(reply.json.error_type).toBe("invalid_request");
    }
    const wrongType = await api.call("POST", "/api/v1/organization/", { auth: alice.basic, body: { name: 12 } });
    expect(wrongType.json.detail).toBe("12 is not of type 'string'");
    const missing = await api.call("POST", "/api/v1/organization/", { auth: alice.basic, body: {} });
    expect(missing.json.detail).toBe("'name' is a required property");
  });

  it("refuse anonymous callers when anonymous access is off", async () => {
    const closed = await startApiHarness("apiauthclosed", { PIER_ANONYMOUS_ACCESS: "false" });
    try {
      const reply = await closed.call("GET", `/api/v1/organization/${closed.root.username}`);
      expect(reply.status).toBe(401);
      expect(reply.json.detail).toBe("Anonymous access is not allowed");
      expect((await closed.call("GET", "/api/v1/user/", { auth: closed.root.basic })).status).toBe(200);
    } finally {
      await closed.close();
    }
  });
});
