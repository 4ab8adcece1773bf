/** `POST /api/v1/organization/<org>/validateproxycache` against a real docker-registry (anonymous and htpasswd). */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApiHarness, type ApiHarness, type TestUser } from "../support/api-harness.js";
import { freePort } from "../support/edge-server.js";
import { unique } from "../support/quay-seed.js";
import { startUpstreamRegistry, type UpstreamRegistryProcess } from "../support/upstream-registry.js";

const BASIC = { username: "cacher", password: `pw-${crypto.randomUUID()}` };

describe("POST /api/v1/organization/<org>/validateproxycache", () => {
  let api: ApiHarness;
  let disabled: ApiHarness;
  let plain: UpstreamRegistryProcess;
  let basic: UpstreamRegistryProcess;
  let owner: TestUser;
  let org: string;
  const path = (name: string) => `/api/v1/organization/${name}/validateproxycache`;

  beforeAll(async () => {
    [api, disabled, plain, basic] = await Promise.all([
      startApiHarness("pcvalid", { PIER_PROXY_CACHE: "true", PIER_SSRF_ALLOWED_HOSTS: "127.0.0.1" }),
      startApiHarness("pcvaliddis"),
      startUpstreamRegistry(),
      startUpstreamRegistry({ basicAuth: BASIC }),
    ]);
    owner = await api.user("pcowner");
    org = unique("pcorg");
    expect(
      (await api.call("POST", "/api/v1/organization/", { auth: owner.basic, body: { name: org, email: "cache@example.com" } })).status,
    ).toBe(201);
  });

  afterAll(async () => {
    await Promise.all([api?.close(), disabled?.close(), plain?.close(), basic?.close()]);
  });

  it("answers 202 Valid for accepted credentials and 202 Anonymous without them", async () => {
    const valid = await api.call("POST", path(org), {
      auth: owner.basic,
      body: {
        upstream_registry: basic.host,
        upstream_registry_username: BASIC.username,
        upstream_registry_password: BASIC.password,
        insecure: true,
        expiration_s: 3600,
      },
    });
    expect(valid).toMatchObject({ status: 202, json: "Valid" });
    const anonymous = await api.call("POST", path(org), {
      auth: owner.basic,
      body: { upstream_registry: plain.host, insecure: true, upstream_registry_username: null },
    });
    expect(anonymous).toMatchObject({ status: 202, json: "Anonymous" });
    const superuser = await api.call("POST", path(org), {
      auth: api.root.basic,
      body: { upstream_registry: `${plain.host}/library`, insecure: true },
    });
    expect(superuser).toMatchObject({ status: 202, json: "Anonymous" });
  });

  it("refuses wrong credentials and an unreachable upstream with Quay's messages", async () => {
    const wrong = await api.call("POST", path(org), {
      auth: owner.basic,
      body: {
        upstream_registry: basic.host,
        upstream_registry_username: BASIC.username,
        upstream_registry_password: "nope",
        insecure: true,
      },
    });
    expect(wrong.status).toBe(400);
    expect(wrong.json).toMatchObject({
      error_type: "invalid_request",
      detail: "Failed login to remote registry. Please verify entered details and try again.",
    });
    const down = await api.call("POST", path(org), {
      auth: owner.basic,
      body: { upstream_registry: `127.0.0.1:${await freePort()}`, insecure: true },
    });
    expect(down.status).toBe(400);
    expect(down.json.detail).toBe("Failed to validate Proxy cache configuration");
  });

  it("refuses bad bodies, hosts outside the SSRF allowlist and an organization that already has a configuration", async () => {
    expect((await api.call("POST", path(org), { auth: owner.basic, body: {} })).status).toBe(400);
    expect((await api.call("POST", path(org), { auth: owner.basic, body: { upstream_registry: 5 } })).json.detail).toBe(
      "5 is not of type 'string'",
    );
    const blocked = await api.call("POST", path(org), { auth: owner.basic, body: { upstream_registry: "10.1.2.3:5000", insecure: true } });
    expect(blocked).toMatchObject({ status: 400, json: { detail: "The provided registry URL is not allowed" } });

    const configured = unique("pcdone");
    await api.call("POST", "/api/v1/organization/", { auth: owner.basic, body: { name: configured, email: "done@example.com" } });
    await api.sql.query(
      `INSERT INTO proxycacheconfig (organization_id, creation_date, upstream_registry, expiration_s, insecure)
       SELECT id, now(), $2, 86400, true FROM "user" WHERE username = $1`,
      [configured, plain.host],
    );
    const exists = await api.call("POST", path(configured), { auth: owner.basic, body: { upstream_registry: plain.host, insecure: true } });
    expect(exists).toMatchObject({ status: 400, json: { detail: "Proxy Cache Configuration already exists" } });
  });

  it("is for organization admins and superusers only, and 404 when the proxy cache is off", async () => {
    const outsider = await api.user("pcout");
    const body = { upstream_registry: plain.host, insecure: true };
    expect((await api.call("POST", path(org), { auth: outsider.basic, body })).status).toBe(403);
    expect((await api.call("POST", path(org), { body })).status).toBe(401);
    expect((await api.call("POST", path(unique("nosuchorg")), { auth: api.root.basic, body })).status).toBe(404);
    const user = await disabled.user("pcoff");
    const offOrg = unique("pcoff");
    await disabled.call("POST", "/api/v1/organization/", { auth: user.basic, body: { name: offOrg, email: "off@example.com" } });
    expect((await disabled.call("POST", path(offOrg), { auth: user.basic, body })).status).toBe(404);
  });
});
