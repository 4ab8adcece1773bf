/**
 * Repositories through /api/v1: the rows Quay's create_repository writes (with default
 * permissions), the repository view with tags, the visible-repositories listing and its
 * pages, visibility changes and deletion — and that the pull path sees each write at once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MediaType } from "../../src/core/model/media-types.js";
import type { BlobStore } from "../../src/core/ports/blob-store.js";
import { createNamespace, createRepository, storeManifest, tagManifest, unique } from "../support/quay-seed.js";
import { API_HOST, basicAuth, bearer, startApiHarness, type ApiHarness, type TestUser } from "../support/api-harness.js";

let api: ApiHarness;
let owner: TestUser;
let other: TestUser;
const org = unique("repos");

beforeAll(async () => {
  api = await startApiHarness("apirepos");
  owner = await api.user("owner");
  other = await api.user("other");
  expect((await api.call("POST", "/api/v1/organization/", { auth: owner.basic, body: { name: org } })).status).toBe(201);
});
afterAll(() => api?.close());

async function create(auth: string, body: Record<string, unknown>) {
  return api.call("POST", "/api/v1/repository", { auth, body: { visibility: "private", description: "", ...body } });
}

/** An anonymous (or bearer) pull-path read of the repository's tags. */
async function pullTags(repo: string, token?: string): Promise<{ status: number; body: { errors?: { code: string }[] } }> {
  const response = await api.app.request(`https://${API_HOST}/v2/${repo}/tags/list`, {
    headers: token ? { authorization: bearer(token) } : {},
  });
  return { status: response.status, body: (await response.json()) as { errors?: { code: string }[] } };
}

async function registryToken(user: TestUser, repo: string): Promise<string> {
  const query = new URLSearchParams({ service: API_HOST, scope: `repository:${repo}:pull` });
  const response = await api.app.request(`https://${API_HOST}/v2/auth?${query}`, {
    headers: { authorization: basicAuth(user.username, user.password) },
  });
  return ((await response.json()) as { token: string }).token;
}

describe("POST /api/v1/repository", () => {
  it("creates the repository with Quay's side rows and the creator's admin grant", async () => {
    const reply = await create(owner.basic, { repository: "first", description: "The **first**" });
    expect(reply.status).toBe(201);
    expect(reply.json).toEqual({ namespace: owner.username, name: "first", kind: "image" });
    const { rows } = await api.sql.query<Record<string, unknown>>(
      `SELECT r.id, v.name AS visibility, k.name AS kind, r.description, r.badge_token, r.state, r.trust_enabled,
              (SELECT count FROM repositoryactioncount a WHERE a.repository_id = r.id) AS action_count,
              (SELECT date::text FROM repositoryactioncount a WHERE a.repository_id = r.id) AS action_date,
              (SELECT score::int FROM repositorysearchscore s WHERE s.repository_id = r.id) AS score,
              (SELECT ro.name FROM repositorypermission p JOIN role ro ON ro.id = p.role_id WHERE p.repository_id = r.id AND p.user_id = $2) AS role
       FROM repository r JOIN "user" n ON n.id = r.namespace_user_id JOIN visibility v ON v.id = r.visibility_id JOIN repositorykind k ON k.id = r.kind_id
       WHERE n.username = $1 AND r.name = 'first'`,
      [owner.username, owner.id],
    );
    expect(rows[0]).toMatchObject({
      visibility: "private",
      kind: "image",
      description: "The **first**",
      state: 0,
      trust_enabled: false,
      action_count: 0,
      action_date: new Date(Date.now() - 86_400_000).toISOString().slice(0, 10),
      score: 0,
      role: "admin",
    });
    expect(rows[0]!.badge_token).toMatch(/^[0-9a-f-]{36}$/);
    const log = await api.sql.query<{ repository_id: number; metadata_json: string }>(
      `SELECT l.repository_id, l.metadata_json FROM logentry3 l JOIN logentrykind k ON k.id = l.kind_id WHERE k.name = 'create_repo' AND l.repository_id = $1`,
      [rows[0]!.id as number],
    );
    expect(log.rows).toEqual([{ repository_id: rows[0]!.id, metadata_json: `{"repo": "first", "namespace": "${owner.username}"}` }]);
  });

  it("applies the organization's default permissions, user-specific ones first", async () => {
    const creator = await api.user("creator");
    const delegate = await api.user("delegate");
    expect(
      (await api.call("PUT", `/api/v1/organization/${org}/team/makers`, { auth: owner.basic, body: { role: "creator" } })).status,
    ).toBe(200);
    expect(
      (await api.call("PUT", `/api/v1/organization/${org}/team/readers`, { auth: owner.basic, body: { role: "member" } })).status,
    ).toBe(200);
    expect(
      (await api.call("PUT", `/api/v1/organization/${org}/team/makers/members/${creator.username}`, { auth: owner.basic })).status,
    ).toBe(200);
    await api.sql.query(
      `INSERT INTO permissionprototype (org_id, uuid, activating_user_id, delegate_user_id, delegate_team_id, role_id)
       SELECT o.id, gen_random_uuid()::text, p.activating, p.delegate_user, t.id, ro.id
       FROM "user" o, (VALUES (NULL::int, NULL::int, 'readers', 'read'), ($2::int, NULL::int, 'readers', 'admin'), (NULL::int, $3::int, NULL, 'write'))
            AS p(activating, delegate_user, team, role)
       LEFT JOIN team t ON t.name = p.team JOIN role ro ON ro.name = p.role
       WHERE o.username = $1 AND (t.id IS NULL OR t.organization_id = o.id)`,
      [org, creator.id, delegate.id],
    );
    const reply = await create(creator.basic, { namespace: org, repository: "made" });
    expect(reply.status).toBe(201);
    const users = await api.call("GET", `/api/v1/repository/${org}/made/permissions/user/`, { auth: owner.basic });
    expect(Object.fromEntries(Object.entries(users.json.permissions).map(([name, p]) => [name, (p as { role: string }).role]))).toEqual({
      [creator.username]: "admin",
      [delegate.username]: "write",
    });
    const teams = await api.call("GET", `/api/v1/repository/${org}/made/permissions/team/`, { auth: owner.basic });
    expect(teams.json.permissions).toEqual({
      readers: { role: "admin", name: "readers", avatar: expect.objectContaining({ kind: "team" }) },
    });
  });

  it("refuses duplicates, invalid names, bad bodies and callers who may not create", async () => {
    expect((await create(owner.basic, { repository: "first" })).json.detail).toBe("Repository already exists");
    for (const repository of ["Upper", "-dash", "a//b", "x".repeat(256)]) {
      const reply = await create(owner.basic, { repository });
      expect(reply.status, repository).toBe(400);
      expect(reply.json.detail).toBe("Invalid repository name");
    }
    expect((await create(owner.basic, { repository: "nested/name/ok" })).status).toBe(201);
    expect((await create(owner.basic, { repository: "v", visibility: "secret" })).json.detail).toBe(
      "'secret' is not one of ['public', 'private']",
    );
    expect((await api.call("POST", "/api/v1/repository", { auth: owner.basic, body: { repository: "v" } })).json.detail).toBe(
      "'visibility' is a required property",
    );
    expect((await create(other.basic, { namespace: org, repository: "nope" })).status).toBe(403);
    expect((await create(other.basic, { namespace: unique("ghost"), repository: "nope" })).status).toBe(403);
    expect(
      (await api.call("POST", "/api/v1/repository", { body: { repository: "x", visibility: "public", description: "" } })).status,
    ).toBe(401);
  });
});

describe("GET /api/v1/repository/<ns>/<repo>", () => {
  it("shows the repository with its live tags and the caller's rights", async () => {
    expect((await create(owner.basic, { repository: "tagged" })).status).toBe(201);
    const { rows } = await api.sql.query<{ id: number }>(
      `SELECT r.id FROM repository r JOIN "user" n ON n.id = r.namespace_user_id WHERE n.username = $1 AND r.name = 'tagged'`,
      [owner.username],
    );
    const target = { sql: api.sql, blobs: {} as BlobStore };
    const text = JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: "sha256:" + "a".repeat(64), size: 2 },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: "sha256:" + "b".repeat(64), size: 1234 }],
    });
    const manifest = await storeManifest(target, rows[0]!.id, text, MediaType.ociManifest);
    const start = Date.UTC(2026, 0, 2, 3, 4, 5, 600);
    await tagManifest(target, rows[0]!.id, "latest", manifest.id, { startMs: start });
    await tagManifest(target, rows[0]!.id, "soon", manifest.id, { startMs: start, endMs: Date.now() + 3_600_000 });
    await tagManifest(target, rows[0]!.id, "gone", manifest.id, { startMs: start, endMs: Date.now() - 1000 });
    await tagManifest(target, rows[0]!.id, "secret", manifest.id, { startMs: start, hidden: true });

    const reply = await api.call("GET", `/api/v1/repository/${owner.username}/tagged`, { auth: owner.basic });
    expect(reply.status).toBe(200);
    expect(reply.json).toMatchObject({
      namespace: owner.username,
      name: "tagged",
      kind: "image",
      description: "",
      is_public: false,
      is_organization: false,
      is_starred: false,
      status_token: expect.stringMatching(/^[0-9a-f-]{36}$/),
      trust_enabled: false,
      tag_expiration_s: 1209600,
      is_free_account: true,
      state: "NORMAL",
      can_write: true,
      can_admin: true,
    });
    expect(Object.keys(reply.json.tags).sort()).toEqual(["latest", "soon"]);
    expect(reply.json.tags.latest).toEqual({
      name: "latest",
      size: 1234,
      last_modified: "Fri, 02 Jan 2026 03:04:05 -0000",
      manifest_digest: manifest.digest,
    });
    expect(reply.json.tags.soon.expiration).toMatch(/-0000$/);

    const noTags = await api.call("GET", `/api/v1/repository/${owner.username}/tagged?includeTags=false&includeStats=true`, {
      auth: owner.basic,
    });
    expect(noTags.json).not.toHaveProperty("tags");
    expect(noTags.json.stats.length).toBeGreaterThanOrEqual(91);
    expect(noTags.json.stats[0]).toEqual({ date: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/), count: 0 });
  });

  it("answers 401 to anonymous and 403 to other users for private repositories, 404 to owners of missing ones", async () => {
    expect((await api.call("GET", `/api/v1/repository/${owner.username}/tagged`)).status).toBe(401);
    const forbidden = await api.call("GET", `/api/v1/repository/${owner.username}/tagged`, { auth: other.basic });
    expect(forbidden.status).toBe(403);
    expect(forbidden.json.error_type).toBe("insufficient_scope");
    const missing = await api.call("GET", `/api/v1/repository/${owner.username}/missing`, { auth: owner.basic });
    expect(missing.status).toBe(404);
    expect((await api.call("GET", `/api/v1/repository/${owner.username}/missing`)).status).toBe(401);
    expect((await api.call("GET", "/api/v1/repository/BAD/name", { auth: owner.basic })).status).toBe(404);
  });
});

describe("POST …/changevisibility", () => {
  it("makes the repository public and private again, and pulls see it at once", async () => {
    expect((await create(owner.basic, { repository: "flip" })).status).toBe(201);
    const repo = `${owner.username}/flip`;
    expect((await pullTags(repo)).status).toBe(401);
    const open = await api.call("POST", `/api/v1/repository/${repo}/changevisibility`, {
      auth: owner.basic,
      body: { visibility: "public" },
    });
    expect(open.status).toBe(200);
    expect(open.json).toEqual({ success: true });
    expect((await pullTags(repo)).status).toBe(200);
    expect((await api.call("GET", `/api/v1/repository/${repo}`)).json).toMatchObject({
      is_public: true,
      status_token: "",
      can_admin: false,
    });
    await api.call("POST", `/api/v1/repository/${repo}/changevisibility`, { auth: owner.basic, body: { visibility: "private" } });
    expect((await pullTags(repo)).status).toBe(401);
    const { rows } = await api.sql.query<{ metadata_json: string }>(
      `SELECT l.metadata_json FROM logentry3 l JOIN logentrykind k ON k.id = l.kind_id JOIN repository r ON r.id = l.repository_id
       WHERE k.name = 'change_repo_visibility' AND r.name = 'flip' ORDER BY l.id`,
    );
    expect(rows.map((r) => r.metadata_json)).toEqual([
      `{"repo": "flip", "namespace": "${owner.username}", "visibility": "public"}`,
      `{"repo": "flip", "namespace": "${owner.username}", "visibility": "private"}`,
    ]);
  });

  it("is for repository admins, with a valid body, on existing repositories", async () => {
    const path = `/api/v1/repository/${owner.username}/flip/changevisibility`;
    expect((await api.call("POST", path, { auth: other.basic, body: { visibility: "public" } })).status).toBe(403);
    expect((await api.call("POST", path, { body: { visibility: "public" } })).status).toBe(401);
    expect((await api.call("POST", path, { auth: owner.basic, body: { visibility: "open" } })).status).toBe(400);
    expect(
      (
        await api.call("POST", `/api/v1/repository/${owner.username}/ghost/changevisibility`, {
          auth: owner.basic,
          body: { visibility: "public" },
        })
      ).status,
    ).toBe(404);
  });
});

describe("DELETE /api/v1/repository/<ns>/<repo>", () => {
  it("marks the repository for deletion as Quay does and pulls stop at once", async () => {
    expect((await create(owner.basic, { repository: "doomed", visibility: "public" })).status).toBe(201);
    const repo = `${owner.username}/doomed`;
    const token = await registryToken(owner, repo);
    expect((await pullTags(repo)).status).toBe(200);
    expect((await pullTags(repo, token)).status).toBe(200);
    const { rows: before } = await api.sql.query<{ id: number }>(
      `SELECT r.id FROM repository r JOIN "user" n ON n.id = r.namespace_user_id WHERE n.username = $1 AND r.name = 'doomed'`,
      [owner.username],
    );
    const id = before[0]!.id;

    expect((await api.call("DELETE", `/api/v1/repository/${repo}`, { auth: other.basic })).status).toBe(403);
    expect((await api.call("DELETE", `/api/v1/repository/${repo}`, { auth: owner.basic })).status).toBe(204);

    const { rows } = await api.sql.query<Record<string, unknown>>(
      `SELECT r.name, r.state, d.original_name, d.queue_id, d.marked IS NOT NULL AS marked, q.queue_name, q.body, q.available, q.retries_remaining
       FROM repository r JOIN deletedrepository d ON d.repository_id = r.id LEFT JOIN queueitem q ON q.id::text = d.queue_id WHERE r.id = $1`,
      [id],
    );
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    expect(row.name).toMatch(/^[0-9a-f-]{36}$/);
    expect(row).toMatchObject({
      state: 3,
      original_name: "doomed",
      marked: true,
      queue_name: `repositorygc/${owner.username}/${id}/`,
      available: true,
      retries_remaining: 5,
    });
    expect(JSON.parse(row.body as string)).toEqual({ marker_id: expect.any(Number), original_name: "doomed" });

    expect((await pullTags(repo)).status).toBe(401);
    const withToken = await pullTags(repo, token);
    expect(withToken.status).toBe(404);
    expect(withToken.body.errors?.[0]?.code).toBe("NAME_UNKNOWN");
    expect((await api.call("GET", `/api/v1/repository/${repo}`, { auth: owner.basic })).status).toBe(404);
    expect((await api.call("DELETE", `/api/v1/repository/${repo}`, { auth: owner.basic })).status).toBe(404);
    // The name is free again.
    expect((await create(owner.basic, { repository: "doomed", visibility: "public" })).status).toBe(201);
  });
});

describe("GET /api/v1/repository", () => {
  it("needs a namespace, starred or public filter", async () => {
    const reply = await api.call("GET", "/api/v1/repository", { auth: owner.basic });
    expect(reply.status).toBe(400);
    expect(reply.json.detail).toBe("namespace, starred or public are required for this API call");
    expect((await api.call("GET", "/api/v1/repository?starred=true")).status).toBe(400);
  });

  it("lists a namespace's repositories the caller can see", async () => {
    const mine = await api.call("GET", `/api/v1/repository?namespace=${owner.username}&last_modified=true&popularity=true`, {
      auth: owner.basic,
    });
    expect(mine.status).toBe(200);
    const names = mine.json.repositories.map((r: { name: string }) => r.name);
    expect(names).toEqual(expect.arrayContaining(["first", "tagged", "flip", "nested/name/ok", "doomed"]));
    const tagged = mine.json.repositories.find((r: { name: string }) => r.name === "tagged");
    expect(tagged).toEqual({
      namespace: owner.username,
      name: "tagged",
      description: "",
      is_public: false,
      kind: "image",
      state: "NORMAL",
      quota: null,
      last_modified: Math.floor(Date.UTC(2026, 0, 2, 3, 4, 5) / 1000),
      popularity: 0,
      is_starred: false,
    });
    expect(mine.json).not.toHaveProperty("next_page");
    const theirs = await api.call("GET", `/api/v1/repository?namespace=${owner.username}`, { auth: other.basic });
    expect(theirs.json.repositories).toEqual([]);
    const publicOnes = await api.call("GET", `/api/v1/repository?namespace=${owner.username}&public=true`);
    expect(publicOnes.json.repositories.map((r: { name: string }) => r.name)).toEqual(["doomed"]);
    expect(publicOnes.json.repositories[0]).not.toHaveProperty("is_starred");
  });

  it("pages public repositories 100 at a time with an opaque next_page token", async () => {
    const target = { sql: api.sql, blobs: {} as BlobStore };
    const ns = await createNamespace(target, unique("bulk"), { organization: true });
    for (let i = 0; i < 105; i++) await createRepository(target, ns, `r${i}`, { visibility: "public" });
    const seen: string[] = [];
    let next: string | undefined;
    let pages = 0;
    do {
      const reply = await api.call("GET", `/api/v1/repository?public=true${next ? `&next_page=${next}` : ""}`);
      expect(reply.status).toBe(200);
      expect(reply.json.repositories.length).toBeLessThanOrEqual(100);
      seen.push(...reply.json.repositories.map((r: { namespace: string; name: string }) => `${r.namespace}/${r.name}`));
      next = reply.json.next_page;
      pages++;
    } while (next && pages < 5);
    expect(pages).toBe(2);
    expect(new Set(seen).size).toBe(seen.length);
    const { rows } = await api.sql.query<{ count: number }>(
      `SELECT count(*)::int AS count FROM repository r JOIN visibility v ON v.id = r.visibility_id WHERE v.name = 'public' AND r.state <> 3`,
    );
    expect(seen).toHaveLength(rows[0]!.count);
    const garbage = await api.call("GET", "/api/v1/repository?public=true&next_page=not-a-token");
    expect(garbage.json.repositories).toHaveLength(100);
  });
});
