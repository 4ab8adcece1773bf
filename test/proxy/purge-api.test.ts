/**
 * DELETE /api/v1/organization/<org>/proxycache/cache (Pier's scoped purge) through the
 * app on PostgreSQL: who may call it, the 404s in Quay's shape, the scopes (org,
 * repository, tag), and that pulls stop serving purged tags at once (the pull cache of
 * every purged repository is bumped before the answer).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fsBlobStore } from "../../src/adapters/blob/fs.js";
import { MediaType } from "../../src/core/model/media-types.js";
import { createApp } from "../../src/http/app.js";
import { API_HOST, startApiHarness, type ApiHarness, type TestUser } from "../support/api-harness.js";
import { createRepository, tagManifest, unique, type SeedTarget } from "../support/quay-seed.js";
import { aliveNames, blob, expectTagInvariants, image, makeProxyCache } from "./cache-org.js";

let api: ApiHarness;
let owner: TestUser;
let outsider: TestUser;
let root: string;
let target: SeedTarget;
const org = unique("cache");
const plainOrg = unique("plain");
let orgId: number;
let nginx: number;
let redis: number;

async function orgIdOf(name: string): Promise<number> {
  const { rows } = await api.sql.query<{ id: number }>(`SELECT id FROM "user" WHERE username = $1`, [name]);
  return rows[0]!.id;
}

async function cached(repositoryId: number, tag: string): Promise<void> {
  const manifest = await image(target, repositoryId, [await blob(target, 100)]);
  await tagManifest(target, repositoryId, tag, manifest.id, { startMs: Date.now() - 60_000, endMs: Date.now() + 86_400_000 });
}

beforeAll(async () => {
  api = await startApiHarness("purge", { PIER_PROXY_CACHE: "true" });
  root = await mkdtemp(join(tmpdir(), "pier-purge-"));
  target = { sql: api.sql, blobs: fsBlobStore({ root }) };
  owner = await api.user("owner");
  outsider = await api.user("outsider");
  for (const name of [org, plainOrg]) {
    expect((await api.call("POST", "/api/v1/organization/", { auth: owner.basic, body: { name } })).status).toBe(201);
  }
  orgId = await orgIdOf(org);
  await makeProxyCache(api.sql, orgId);
  nginx = await createRepository(target, orgId, "library/nginx");
  redis = await createRepository(target, orgId, "library/redis");
  for (const tag of ["latest", "1.27"]) await cached(nginx, tag);
  await cached(redis, "7");
});
afterAll(async () => {
  await api?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

/** A purged tag is a miss again: this harness fills nothing itself (no hashing) and has no origin to hand it to. */
const NOT_CACHED = 503;
const purgePath = (query = "") => `/api/v1/organization/${org}/proxycache/cache${query}`;

async function pull(repository: string, tag: string): Promise<number> {
  const response = await api.app.request(`https://${API_HOST}/v2/${org}/${repository}/manifests/${tag}`, {
    headers: { accept: MediaType.ociManifest },
  });
  await response.arrayBuffer();
  return response.status;
}

describe("DELETE /api/v1/organization/<org>/proxycache/cache", () => {
  it("refuses anonymous callers and non-admins, and answers 404 outside cache organizations", async () => {
    expect((await api.call("DELETE", purgePath())).status).toBe(401);
    const refused = await api.call("DELETE", purgePath(), { auth: outsider.basic });
    expect(refused.status).toBe(403);
    expect(refused.json).toMatchObject({ error_type: "insufficient_scope", detail: "Unauthorized", status: 403 });
    const plain = await api.call("DELETE", `/api/v1/organization/${plainOrg}/proxycache/cache`, { auth: owner.basic });
    expect(plain.status).toBe(404);
    expect(plain.json).toMatchObject({ error_type: "not_found", title: "not_found", detail: "Not Found", status: 404 });
    const missing = await api.call("DELETE", `/api/v1/organization/${unique("none")}/proxycache/cache`, { auth: api.root.basic });
    expect(missing.status).toBe(404);
    const noRepo = await api.call("DELETE", purgePath("?repository=library/none"), { auth: owner.basic });
    expect(noRepo.status).toBe(404);
    expect(noRepo.json.detail).toBe("Repository not found");
    const tagOnly = await api.call("DELETE", purgePath("?tag=latest"), { auth: owner.basic });
    expect(tagOnly.status).toBe(400);
    expect(tagOnly.json).toMatchObject({ error_type: "invalid_request", detail: "A tag can only be purged with its repository" });
    expect(await aliveNames(api.sql, orgId, Date.now())).toHaveLength(3);
  });

  it("answers 404 when the proxy cache is off", async () => {
    const off = createApp({ ...api.registry, config: { ...api.registry.config, proxyCache: false } });
    const response = await off.request(`https://${API_HOST}${purgePath()}`, { method: "DELETE", headers: { authorization: owner.basic } });
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error_type: "not_found", status: 404 });
    expect(await aliveNames(api.sql, orgId, Date.now())).toHaveLength(3);
  });

  it("purges one tag, then a repository, then the organization; pulls stop serving each at once", async () => {
    expect(await pull("library/nginx", "latest")).toBe(200);
    expect(await pull("library/nginx", "1.27")).toBe(200);
    expect(await pull("library/redis", "7")).toBe(200);

    const one = await api.call("DELETE", purgePath("?repository=library/nginx&tag=latest"), { auth: owner.basic });
    expect(one.status).toBe(200);
    expect(one.json).toEqual({ purged: [{ repository: "library/nginx", tag: "latest" }] });
    expect(await pull("library/nginx", "latest")).toBe(NOT_CACHED);
    expect(await pull("library/nginx", "1.27")).toBe(200);

    const again = await api.call("DELETE", purgePath("?repository=library/nginx&tag=latest"), { auth: owner.basic });
    expect(again.json).toEqual({ purged: [] });

    const repo = await api.call("DELETE", purgePath("?repository=library/nginx"), { auth: owner.basic });
    expect(repo.json).toEqual({ purged: [{ repository: "library/nginx", tag: "1.27" }] });
    expect(await pull("library/nginx", "1.27")).toBe(NOT_CACHED);
    expect(await pull("library/redis", "7")).toBe(200);

    const all = await api.call("DELETE", purgePath(), { auth: api.root.basic });
    expect(all.json).toEqual({ purged: [{ repository: "library/redis", tag: "7" }] });
    expect(await pull("library/redis", "7")).toBe(NOT_CACHED);
    expect(await aliveNames(api.sql, orgId, Date.now())).toEqual([]);
    await expectTagInvariants(api.sql, orgId, Date.now());
  });
});
