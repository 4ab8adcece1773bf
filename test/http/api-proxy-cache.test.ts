/**
 * Cache organizations through /api/v1/organization/<org>/proxycache: Quay's shapes,
 * status codes, texts and audit entries, the proxycacheconfig row with credentials in
 * Quay's encrypted format, Pier's anonymous_pulls option, the SSRF check, and the
 * refusals (flag off, anonymous, non-admins, no secret key).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FieldEncrypter } from "../../src/core/auth/field-encryption.js";
import { upstreamTargetOf } from "../../src/core/proxy/config.js";
import { findProxyCacheByHost, findProxyCacheConfig } from "../../src/db/queries/proxy-cache.js";
import { createRepository, storeManifest, tagManifest, unique, type SeedTarget } from "../support/quay-seed.js";
import { API_HOST, SECRET_KEY, startApiHarness, type ApiHarness, type TestUser, organizationWithMembers } from "../support/api-harness.js";

let api: ApiHarness;
let owner: TestUser;
let member: TestUser;
let outsider: TestUser;
const org = unique("cache");
const path = `/api/v1/organization/${org}/proxycache`;

async function auditEntries(orgName: string): Promise<{ kind: string; performer: string | null; metadata_json: string }[]> {
  const { rows } = await api.sql.query<{ kind: string; performer: string | null; metadata_json: string }>(
    `SELECT k.name AS kind, p.username AS performer, l.metadata_json FROM logentry3 l JOIN logentrykind k ON k.id = l.kind_id
     JOIN "user" a ON a.id = l.account_id LEFT JOIN "user" p ON p.id = l.performer_id
     WHERE a.username = $1 AND k.name LIKE '%proxy_cache%' ORDER BY l.id`,
    [orgName],
  );
  return rows;
}

async function newOrg(prefix: string): Promise<string> {
  const name = unique(prefix);
  expect((await api.call("POST", "/api/v1/organization/", { auth: owner.basic, body: { name } })).status).toBe(201);
  return name;
}

function problem(status: number, errorType: string, detail: string): Record<string, unknown> {
  return {
    detail,
    error_message: detail,
    error_type: errorType,
    title: errorType,
    type: `https://${API_HOST}/api/v1/error/${errorType}`,
    status,
  };
}

beforeAll(async () => {
  api = await startApiHarness("apiproxy", { PIER_PROXY_CACHE: "true", PIER_SSRF_ALLOWED_HOSTS: "allowed.internal" });
  ({ owner, member, outsider } = await organizationWithMembers(api, org));
});
afterAll(() => api?.close());

describe("GET /api/v1/organization/<org>/proxycache", () => {
  it("answers Quay's empty-string shape when none is configured", async () => {
    const reply = await api.call("GET", path, { auth: member.basic });
    expect(reply.status).toBe(200);
    expect(reply.json).toEqual({ upstream_registry: "", expiration_s: "", insecure: "", anonymous_pulls: "" });
  });

  it("refuses anonymous callers with 401 and non-members with 403 in Quay's shape", async () => {
    const anonymous = await api.call("GET", path);
    expect(anonymous.status).toBe(401);
    expect(anonymous.json).toEqual(problem(401, "invalid_token", "Requires authentication"));
    const stranger = await api.call("GET", path, { auth: outsider.basic });
    expect(stranger.status).toBe(403);
    expect(stranger.json).toEqual(problem(403, "insufficient_scope", "Unauthorized"));
  });

  it("answers 404 for an unknown organization to a superuser", async () => {
    const reply = await api.call("GET", `/api/v1/organization/${unique("none")}/proxycache`, { auth: api.root.basic });
    expect(reply.status).toBe(404);
    expect(reply.json).toEqual(problem(404, "not_found", "Not Found"));
  });
});

describe("POST /api/v1/organization/<org>/proxycache", () => {
  it("refuses members who are not admins (403) and anonymous callers (401), writing nothing", async () => {
    const body = { upstream_registry: "docker.io" };
    expect((await api.call("POST", path, { auth: member.basic, body })).json).toEqual(problem(403, "insufficient_scope", "Unauthorized"));
    expect((await api.call("POST", path, { body })).status).toBe(401);
    expect(
      (await api.sql.query(`SELECT 1 FROM proxycacheconfig p JOIN "user" u ON u.id = p.organization_id WHERE u.username = $1`, [org])).rows,
    ).toEqual([]);
  });

  it("refuses bad bodies, bad upstreams and SSRF targets with Quay's 400 texts", async () => {
    const cases: [unknown, string][] = [
      [{}, "'upstream_registry' is a required property"],
      [{ upstream_registry: 5 }, "5 is not of type 'string'"],
      [{ upstream_registry: "  " }, "External registry URL is required"],
      [{ upstream_registry: "https://docker.io" }, "External registry URL must be a host name without a scheme (set insecure for http)"],
      [{ upstream_registry: "bad_host!" }, "URL must include a hostname"],
      [{ upstream_registry: "127.0.0.1:5000" }, "The provided registry URL is not allowed"],
      [{ upstream_registry: "localhost/library" }, "The provided registry URL is not allowed"],
      [{ upstream_registry: "metadata.google.internal" }, "The provided registry URL is not allowed"],
      [{ upstream_registry: "docker.io", expiration_s: -1 }, "-1 is less than the minimum of 0"],
      [{ upstream_registry: "docker.io", expiration_s: 1.5 }, "1.5 is not of type ['integer', 'null']"],
      [{ upstream_registry: "docker.io", expiration_s: "60" }, "'60' is not of type ['integer', 'null']"],
      [{ upstream_registry: "docker.io", insecure: "yes" }, "'yes' is not of type ['boolean', 'null']"],
      [{ upstream_registry: "docker.io", anonymous_pulls: 1 }, "1 is not of type ['boolean', 'null']"],
      [
        { upstream_registry: "docker.io", upstream_registry_username: "only-me" },
        "Upstream credentials need both upstream_registry_username and upstream_registry_password",
      ],
      [
        { upstream_registry: "docker.io", upstream_registry_username: "u", upstream_registry_password: "p".repeat(3001) },
        "upstream_registry_password is too long",
      ],
    ];
    for (const [body, detail] of cases) {
      const reply = await api.call("POST", path, { auth: owner.basic, body });
      expect(reply.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(reply.json).toEqual(problem(400, "invalid_request", detail));
    }
    expect(await findProxyCacheConfig(api.sql, org)).toBeNull();
    expect(await auditEntries(org)).toEqual([]);
  });

  it('creates the configuration: 201 "Created", the row as Quay writes it, encrypted credentials, the audit entry', async () => {
    const reply = await api.call("POST", path, {
      auth: owner.basic,
      body: {
        upstream_registry: " docker.io/library/ ",
        upstream_registry_username: "hub-user",
        upstream_registry_password: "hub-secret-Ω",
        expiration_s: 3600,
        anonymous_pulls: true,
      },
    });
    expect(reply.status).toBe(201);
    expect(reply.json).toBe("Created");
    expect(JSON.stringify(reply.json)).not.toContain("hub-secret");

    const { rows } = await api.sql.query<Record<string, unknown>>(
      `SELECT p.upstream_registry, p.upstream_registry_username AS username, p.upstream_registry_password AS password,
              p.expiration_s, p.insecure, p.creation_date IS NOT NULL AS created, o.anonymous_pulls
       FROM proxycacheconfig p JOIN "user" u ON u.id = p.organization_id
       LEFT JOIN pier.proxy_cache_option o ON o.organization_id = u.id WHERE u.username = $1`,
      [org],
    );
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    expect(row).toMatchObject({
      upstream_registry: "docker.io/library",
      expiration_s: 3600,
      insecure: false,
      created: true,
      anonymous_pulls: true,
    });
    expect(row.username).toMatch(/^v0\$\$[A-Za-z0-9+/]+=*$/);
    expect(row.password).toMatch(/^v0\$\$[A-Za-z0-9+/]+=*$/);
    const fields = new FieldEncrypter(SECRET_KEY);
    expect(await fields.decrypt(row.username as string)).toBe("hub-user");
    expect(await fields.decrypt(row.password as string)).toBe("hub-secret-Ω");

    expect(await auditEntries(org)).toEqual([
      { kind: "create_proxy_cache_config", performer: owner.username, metadata_json: `{"upstream_registry": "docker.io/library"}` },
    ]);
  });

  it("shows members the configuration without credentials", async () => {
    const reply = await api.call("GET", path, { auth: member.basic });
    expect(reply.status).toBe(200);
    expect(reply.json).toEqual({ upstream_registry: "docker.io/library", expiration_s: 3600, insecure: false, anonymous_pulls: true });
  });

  it("exposes the configuration to the proxy: findProxyCacheConfig, findProxyCacheByHost, upstreamTargetOf", async () => {
    const config = await findProxyCacheConfig(api.sql, org);
    expect(config).toMatchObject({
      namespace: org,
      upstreamRegistry: "docker.io/library",
      expirationSeconds: 3600,
      insecure: false,
      anonymousPulls: true,
    });
    expect(config!.username).toMatch(/^v0\$\$/);
    const target = await upstreamTargetOf(config!, new FieldEncrypter(SECRET_KEY));
    expect(target).toEqual({
      registry: { value: "docker.io/library", host: "docker.io", namespace: "library", baseUrl: "https://registry-1.docker.io" },
      credentials: { username: "hub-user", password: "hub-secret-Ω" },
    });
    await expect(upstreamTargetOf(config!, null)).rejects.toMatchObject({ name: "UpstreamError", kind: "auth" });
    await expect(upstreamTargetOf(config!, new FieldEncrypter("another-key"))).rejects.toThrow();

    const second = await newOrg("hub");
    expect(
      (await api.call("POST", `/api/v1/organization/${second}/proxycache`, { auth: owner.basic, body: { upstream_registry: "DOCKER.IO" } }))
        .status,
    ).toBe(201);
    const byHost = await findProxyCacheByHost(api.sql, ["docker.io"]);
    expect(byHost.map((c) => c.namespace)).toEqual([org, second]);
    expect(byHost[1]).toMatchObject({
      upstreamRegistry: "DOCKER.IO",
      username: null,
      password: null,
      expirationSeconds: 86400,
      anonymousPulls: false,
    });
    expect(await upstreamTargetOf(byHost[1]!, null)).toMatchObject({ credentials: null, registry: { host: "docker.io", namespace: null } });
    expect(await findProxyCacheByHost(api.sql, ["ghcr.io"])).toEqual([]);
    expect(await findProxyCacheConfig(api.sql, owner.username)).toBeNull();
  });

  it('refuses a second configuration: "Proxy Cache Configuration already exists"', async () => {
    const reply = await api.call("POST", path, { auth: owner.basic, body: { upstream_registry: "quay.io" } });
    expect(reply.status).toBe(400);
    expect(reply.json).toEqual(problem(400, "invalid_request", "Proxy Cache Configuration already exists"));
    const { rows } = await api.sql.query(
      `SELECT 1 FROM proxycacheconfig p JOIN "user" u ON u.id = p.organization_id WHERE u.username = $1`,
      [org],
    );
    expect(rows).toHaveLength(1);
  });

  it("lets a superuser configure any organization, with the defaults; allowed hosts pass the SSRF check", async () => {
    const name = await newOrg("root");
    const reply = await api.call("POST", `/api/v1/organization/${name}/proxycache`, {
      auth: api.root.basic,
      body: {
        upstream_registry: "allowed.internal:5000",
        insecure: true,
        expiration_s: 0,
        upstream_registry_username: "",
        upstream_registry_password: null,
      },
    });
    expect(reply.status).toBe(201);
    expect(await findProxyCacheConfig(api.sql, name)).toMatchObject({
      upstreamRegistry: "allowed.internal:5000",
      expirationSeconds: 0,
      insecure: true,
      username: null,
      password: null,
      anonymousPulls: false,
    });
    expect((await auditEntries(name))[0]).toMatchObject({ kind: "create_proxy_cache_config", performer: api.root.username });
  });

  it("refuses to convert an organization holding immutable tags, as Quay does", async () => {
    const name = await newOrg("immut");
    const { rows } = await api.sql.query<{ id: number }>(`SELECT id FROM "user" WHERE username = $1`, [name]);
    const target = { sql: api.sql, blobs: api.registry.blobs } satisfies SeedTarget;
    const repo = await createRepository(target, rows[0]!.id, "app");
    const manifest = await storeManifest(
      target,
      repo,
      JSON.stringify({ schemaVersion: 2, layers: [] }),
      "application/vnd.oci.image.manifest.v1+json",
    );
    const tag = await tagManifest(target, repo, "v1", manifest.id);
    await api.sql.query(`UPDATE tag SET immutable = true WHERE id = $1`, [tag]);
    const refused = await api.call("POST", `/api/v1/organization/${name}/proxycache`, {
      auth: owner.basic,
      body: { upstream_registry: "ghcr.io" },
    });
    expect(refused.status).toBe(400);
    expect(refused.json).toEqual(problem(400, "invalid_request", "Cannot convert organization to proxy cache: immutable tags exist"));
    expect(await findProxyCacheConfig(api.sql, name)).toBeNull();
    // Mutable tags do not stand in the way.
    await api.sql.query(`UPDATE tag SET immutable = false WHERE id = $1`, [tag]);
    expect(
      (await api.call("POST", `/api/v1/organization/${name}/proxycache`, { auth: owner.basic, body: { upstream_registry: "ghcr.io" } }))
        .status,
    ).toBe(201);
  });

  it("answers 404 for an unknown organization to a superuser", async () => {
    const reply = await api.call("POST", `/api/v1/organization/${unique("none")}/proxycache`, {
      auth: api.root.basic,
      body: { upstream_registry: "ghcr.io" },
    });
    expect(reply.status).toBe(404);
  });
});

describe("PUT /api/v1/organization/<org>/proxycache/options (Pier)", () => {
  it("changes anonymous_pulls for org admins only, and answers the configuration", async () => {
    expect((await api.call("PUT", `${path}/options`, { auth: member.basic, body: { anonymous_pulls: false } })).status).toBe(403);
    expect((await api.call("PUT", `${path}/options`, { body: { anonymous_pulls: false } })).status).toBe(401);
    const bad = await api.call("PUT", `${path}/options`, { auth: owner.basic, body: { anonymous_pulls: "no" } });
    expect(bad.json).toEqual(problem(400, "invalid_request", "'no' is not of type 'boolean'"));
    expect((await api.call("PUT", `${path}/options`, { auth: owner.basic, body: {} })).json.detail).toBe(
      "'anonymous_pulls' is a required property",
    );
    const reply = await api.call("PUT", `${path}/options`, { auth: owner.basic, body: { anonymous_pulls: false } });
    expect(reply.status).toBe(200);
    expect(reply.json).toEqual({ upstream_registry: "docker.io/library", expiration_s: 3600, insecure: false, anonymous_pulls: false });
    expect((await findProxyCacheConfig(api.sql, org))!.anonymousPulls).toBe(false);
  });

  it("answers 404 for an organization that is not a cache", async () => {
    const name = await newOrg("plain");
    const reply = await api.call("PUT", `/api/v1/organization/${name}/proxycache/options`, {
      auth: owner.basic,
      body: { anonymous_pulls: true },
    });
    expect(reply.status).toBe(404);
    expect(
      await api.sql.query(`SELECT 1 FROM pier.proxy_cache_option o JOIN "user" u ON u.id = o.organization_id WHERE u.username = $1`, [
        name,
      ]),
    ).toMatchObject({ rows: [] });
  });
});

describe("DELETE /api/v1/organization/<org>/proxycache", () => {
  it("refuses non-admins and anonymous callers", async () => {
    expect((await api.call("DELETE", path, { auth: member.basic })).status).toBe(403);
    expect((await api.call("DELETE", path)).status).toBe(401);
    expect(await findProxyCacheConfig(api.sql, org)).not.toBeNull();
  });

  it('deletes: 201 "Deleted", the audit entry, cached repositories stay', async () => {
    const { rows } = await api.sql.query<{ id: number }>(`SELECT id FROM "user" WHERE username = $1`, [org]);
    await createRepository({ sql: api.sql, blobs: api.registry.blobs } satisfies SeedTarget, rows[0]!.id, "library-nginx");
    const reply = await api.call("DELETE", path, { auth: owner.basic });
    expect(reply.status).toBe(201);
    expect(reply.json).toBe("Deleted");
    expect(await findProxyCacheConfig(api.sql, org)).toBeNull();
    expect((await api.sql.query(`SELECT name FROM repository WHERE namespace_user_id = $1`, [rows[0]!.id])).rows).toEqual([
      { name: "library-nginx" },
    ]);
    expect((await auditEntries(org)).map((e) => [e.kind, e.performer, e.metadata_json])).toEqual([
      ["create_proxy_cache_config", owner.username, `{"upstream_registry": "docker.io/library"}`],
      ["delete_proxy_cache_config", owner.username, "{}"],
    ]);
    expect((await api.call("GET", path, { auth: member.basic })).json).toEqual({
      upstream_registry: "",
      expiration_s: "",
      insecure: "",
      anonymous_pulls: "",
    });
  });

  it("answers 404 when there is none", async () => {
    const reply = await api.call("DELETE", path, { auth: owner.basic });
    expect(reply.status).toBe(404);
    expect(reply.json).toEqual(problem(404, "not_found", "Not Found"));
  });
});

describe("without PIER_PROXY_CACHE", () => {
  it("answers 404 on every proxycache endpoint", async () => {
    const off = await startApiHarness("apiproxyoff");
    try {
      const admin = await off.user("owner");
      const name = unique("org");
      expect((await off.call("POST", "/api/v1/organization/", { auth: admin.basic, body: { name } })).status).toBe(201);
      const base = `/api/v1/organization/${name}/proxycache`;
      for (const [method, url, body] of [
        ["GET", base, undefined],
        ["POST", base, { upstream_registry: "docker.io" }],
        ["DELETE", base, undefined],
        ["PUT", `${base}/options`, { anonymous_pulls: true }],
      ] as const) {
        const reply = await off.call(method, url, { auth: admin.basic, body });
        expect(reply.status, `${method} ${url}`).toBe(404);
        expect(reply.json.error_type).toBe("not_found");
      }
      expect((await off.sql.query(`SELECT count(*)::int AS n FROM proxycacheconfig`)).rows).toEqual([{ n: 0 }]);
    } finally {
      await off.close();
    }
  });
});

describe("without a database secret key", () => {
  it("refuses credentials with a clear 400 and stores a configuration without them", async () => {
    const keyless = await startApiHarness("apiproxynokey", { PIER_PROXY_CACHE: "true", PIER_DATABASE_SECRET_KEY: "" });
    try {
      const admin = await keyless.user("owner");
      const name = unique("org");
      expect((await keyless.call("POST", "/api/v1/organization/", { auth: admin.basic, body: { name } })).status).toBe(201);
      const base = `/api/v1/organization/${name}/proxycache`;
      const refused = await keyless.call("POST", base, {
        auth: admin.basic,
        body: { upstream_registry: "ghcr.io", upstream_registry_username: "u", upstream_registry_password: "p" },
      });
      expect(refused.status).toBe(400);
      expect(refused.json.detail).toBe(
        "Upstream credentials cannot be stored: the registry has no database secret key (PIER_DATABASE_SECRET_KEY)",
      );
      expect((await keyless.call("POST", base, { auth: admin.basic, body: { upstream_registry: "ghcr.io" } })).status).toBe(201);
      expect(await findProxyCacheConfig(keyless.sql, name)).toMatchObject({ upstreamRegistry: "ghcr.io", username: null, password: null });
    } finally {
      await keyless.close();
    }
  });
});
