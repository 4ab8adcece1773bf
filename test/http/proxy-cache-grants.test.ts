/**
 * What /v2/auth grants in a cache organization and what /v2 writes meet there: members
 * pull any repository name (existing or not), outsiders and anonymous callers only when
 * the organization allows anonymous pulls, nobody gets push or `*`, and a write with a
 * token minted before the organization became a cache is refused with DENIED.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodePostgresSql } from "../../src/adapters/sql/node-postgres.js";
import { grantScopes } from "../../src/core/auth/token-service.js";
import { parseScope } from "../../src/core/auth/scopes.js";
import { migrate } from "../../src/db/migrate.js";
import { findProxyCacheConfig } from "../../src/db/queries/proxy-cache.js";
import { createNamespace, createRepository, unique } from "../support/quay-seed.js";
import { createTestDatabase } from "../support/services.js";
import { bearer, startApiHarness, tokenAccess, type ApiHarness, type TestUser, organizationWithMembers } from "../support/api-harness.js";

let api: ApiHarness;
let owner: TestUser;
let member: TestUser;
let outsider: TestUser;
const org = unique("mirror");
/** Where upload sessions point: this app takes no bytes itself, but starts sessions. */
const ORIGIN = "https://origin.registry.test";

async function token(scopes: string[], auth?: string): Promise<string> {
  const query = scopes.map((s) => `scope=${encodeURIComponent(s)}`).join("&");
  const reply = await api.call("GET", `/v2/auth?service=registry.test&${query}`, { auth });
  expect(reply.status).toBe(200);
  return reply.json.token as string;
}

async function grants(scope: string, auth?: string): Promise<string[]> {
  const [entry] = tokenAccess(await token([scope], auth));
  return entry!.actions;
}

async function setAnonymous(value: boolean): Promise<void> {
  const reply = await api.call("PUT", `/api/v1/organization/${org}/proxycache/options`, {
    auth: owner.basic,
    body: { anonymous_pulls: value },
  });
  expect(reply.status).toBe(200);
}

beforeAll(async () => {
  api = await startApiHarness("proxygrants", { PIER_PROXY_CACHE: "true", PIER_ORIGIN_URL: ORIGIN });
  ({ owner, member, outsider } = await organizationWithMembers(api, org));
});
afterAll(() => api?.close());

describe("before the organization is a cache", () => {
  it("grants as for any organization: the admin pushes, a plain member gets nothing on a missing repository", async () => {
    expect(await grants(`repository:${org}/library/nginx:pull,push`, owner.basic)).toEqual(["pull", "push"]);
    expect(await grants(`repository:${org}/library/nginx:pull`, member.basic)).toEqual([]);
  });
});

describe("in a cache organization", () => {
  let oldPushToken: string;

  beforeAll(async () => {
    oldPushToken = await token([`repository:${org}/app:pull,push`], owner.basic);
    expect(tokenAccess(oldPushToken)[0]!.actions).toEqual(["pull", "push"]);
    const { rows } = await api.sql.query<{ id: number }>(`SELECT id FROM "user" WHERE username = $1`, [org]);
    await createRepository({ sql: api.sql, blobs: api.registry.blobs }, rows[0]!.id, "cached", { visibility: "private" });
    const reply = await api.call("POST", `/api/v1/organization/${org}/proxycache`, {
      auth: owner.basic,
      body: { upstream_registry: "docker.io" },
    });
    expect(reply.status).toBe(201);
  });

  it("grants members pull on any repository name, existing or not", async () => {
    expect(await grants(`repository:${org}/library/nginx:pull`, member.basic)).toEqual(["pull"]);
    expect(await grants(`repository:${org}/cached:pull`, member.basic)).toEqual(["pull"]);
    expect(await grants(`repository:registry.test/${org}/library/alpine:pull`, member.basic)).toEqual(["pull"]);
  });

  it("grants nobody push or *, not even the organization's admin or a superuser", async () => {
    expect(await grants(`repository:${org}/library/nginx:pull,push,*`, owner.basic)).toEqual(["pull"]);
    expect(await grants(`repository:${org}/cached:push,*`, owner.basic)).toEqual([]);
    expect(await grants(`repository:${org}/cached:pull,push`, member.basic)).toEqual(["pull"]);
    expect(await grants(`repository:${org}/cached:pull,push,*`, api.root.basic)).toEqual([]);
  });

  it("grants outsiders and anonymous callers nothing while anonymous pulls are off", async () => {
    expect(await grants(`repository:${org}/library/nginx:pull`, outsider.basic)).toEqual([]);
    expect(await grants(`repository:${org}/library/nginx:pull`)).toEqual([]);
    expect(await grants(`repository:${org}/cached:pull,push`)).toEqual([]);
  });

  it("grants anyone pull (only pull) once anonymous pulls are on, and stops when they are off again", async () => {
    await setAnonymous(true);
    expect(await grants(`repository:${org}/library/nginx:pull`)).toEqual(["pull"]);
    expect(await grants(`repository:${org}/cached:pull,push`)).toEqual(["pull"]);
    expect(await grants(`repository:${org}/library/nginx:pull,push,*`, outsider.basic)).toEqual(["pull"]);
    // Other namespaces are not affected.
    expect(await grants(`repository:${owner.username}/private:pull`)).toEqual([]);
    await setAnonymous(false);
    expect(await grants(`repository:${org}/library/nginx:pull`)).toEqual([]);
  });

  it("refuses a write with a token minted before the organization became a cache: 403 DENIED naming the upstream", async () => {
    const start = await api.call("POST", `/v2/${org}/app/blobs/uploads/`, { auth: bearer(oldPushToken) });
    expect(start.status).toBe(403);
    expect(start.json).toEqual({
      errors: [{ code: "DENIED", message: `cache organization ${org} is read-only: its content comes from docker.io`, detail: {} }],
    });
    const del = await api.call("DELETE", `/v2/${org}/app/manifests/latest`, { auth: bearer(oldPushToken) });
    expect(del.status).toBe(403);
    expect(del.json.errors[0].code).toBe("DENIED");
    const { rows } = await api.sql.query(
      `SELECT 1 FROM repository r JOIN "user" u ON u.id = r.namespace_user_id WHERE u.username = $1 AND r.name = 'app'`,
      [org],
    );
    expect(rows).toEqual([]);
  });

  it("takes writes again once the configuration is deleted", async () => {
    expect((await api.call("DELETE", `/api/v1/organization/${org}/proxycache`, { auth: owner.basic })).status).toBe(201);
    expect(await grants(`repository:${org}/app:pull,push`, owner.basic)).toEqual(["pull", "push"]);
    expect(await grants(`repository:${org}/library/nginx:pull`, member.basic)).toEqual([]);
    const start = await api.call("POST", `/v2/${org}/app/blobs/uploads/`, { auth: bearer(oldPushToken) });
    expect(start.status).toBe(202);
    expect(start.headers.get("location")).toMatch(new RegExp(`^${ORIGIN}/v2/${org}/app/blobs/uploads/`));
  });
});

describe("with PIER_PROXY_CACHE off", () => {
  it("treats a proxycacheconfig row as nothing: Quay's grants, writes accepted", async () => {
    const off = await startApiHarness("proxygrantsoff", { PIER_ORIGIN_URL: ORIGIN });
    try {
      const admin = await off.user("owner");
      const name = unique("org");
      expect((await off.call("POST", "/api/v1/organization/", { auth: admin.basic, body: { name } })).status).toBe(201);
      await off.sql.query(
        `INSERT INTO proxycacheconfig (organization_id, creation_date, upstream_registry, expiration_s, insecure)
         SELECT id, now(), 'docker.io', 86400, false FROM "user" WHERE username = $1`,
        [name],
      );
      const reply = await off.call("GET", `/v2/auth?service=registry.test&scope=repository:${name}/app:pull,push`, { auth: admin.basic });
      const jwt = reply.json.token as string;
      expect(tokenAccess(jwt)[0]!.actions).toEqual(["pull", "push"]);
      expect((await off.call("POST", `/v2/${name}/app/blobs/uploads/`, { auth: bearer(jwt) })).status).toBe(202);
    } finally {
      await off.close();
    }
  });
});

describe("on a database without schema pier (no Pier of this version migrated it yet)", () => {
  it("reads a cache organization's options as off instead of failing", async () => {
    const db = await createTestDatabase("proxygrantsold");
    const sql = nodePostgresSql(db.url);
    try {
      await migrate(sql);
      await sql.query(`DROP SCHEMA pier CASCADE`);
      const name = unique("old");
      const orgId = await createNamespace({ sql, blobs: api.registry.blobs }, name, { organization: true });
      await sql.query(
        `INSERT INTO proxycacheconfig (organization_id, creation_date, upstream_registry, expiration_s, insecure)
         VALUES ($1, now(), 'ghcr.io', 600, false)`,
        [orgId],
      );
      expect(await findProxyCacheConfig(sql, name)).toMatchObject({
        upstreamRegistry: "ghcr.io",
        expirationSeconds: 600,
        anonymousPulls: false,
      });
      const scope = parseScope(`repository:${name}/app:pull`, "registry.test", "library");
      expect(await grantScopes(sql, null, [scope], { proxyCache: true })).toEqual([
        { type: "repository", name: `${name}/app`, actions: [] },
      ]);
    } finally {
      await sql.close();
      await db.drop();
    }
  });
});
