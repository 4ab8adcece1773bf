/**
 * Organizations through /api/v1: the rows Quay's create_organization writes (the
 * e-mail in `user.email`, `owners` admin team with the creator), the audit entry, the
 * views members, admins and outsiders get, and the refusals.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { purgeDeleted } from "../../src/core/jobs/purge.js";
import { unique } from "../support/quay-seed.js";
import { startApiHarness, type ApiHarness, type TestUser } from "../support/api-harness.js";

let api: ApiHarness;
let owner: TestUser;
let outsider: TestUser;
const org = unique("org");

beforeAll(async () => {
  api = await startApiHarness("apiorgs");
  owner = await api.user("owner");
  outsider = await api.user("outsider");
  const reply = await api.call("POST", "/api/v1/organization/", { auth: owner.basic, body: { name: org, email: "team@example.com" } });
  expect(reply.status).toBe(201);
  expect(reply.json).toBe("Created");
});
afterAll(() => api?.close());

describe("POST /api/v1/organization/", () => {
  it("writes the organization row as Quay does", async () => {
    const { rows } = await api.sql.query<Record<string, unknown>>(
      `SELECT u.uuid, u.email, u.organization, u.robot, u.verified, u.enabled, u.password_hash, u.removed_tag_expiration_s::int AS expiration,
              u.creation_date IS NOT NULL AS created,
              (SELECT count(*)::int FROM organizationcontactemail c WHERE c.organization_id = u.id) AS contact_rows
       FROM "user" u WHERE u.username = $1`,
      [org],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      organization: true,
      robot: false,
      enabled: true,
      password_hash: null,
      expiration: 1209600,
      created: true,
    });
    expect(rows[0]!.uuid).toMatch(/^[0-9a-f-]{36}$/);
    // Quay at head keeps the address in user.email; organizationcontactemail is left alone.
    expect(rows[0]!.email).toBe("team@example.com");
    expect(rows[0]!.contact_rows).toBe(0);
  });

  it("creates the owners team with the admin role and the creator in it", async () => {
    const { rows } = await api.sql.query<{ name: string; role: string; member: string }>(
      `SELECT t.name, tr.name AS role, m.username AS member FROM team t JOIN teamrole tr ON tr.id = t.role_id
       JOIN "user" o ON o.id = t.organization_id JOIN teammember tm ON tm.team_id = t.id JOIN "user" m ON m.id = tm.user_id
       WHERE o.username = $1`,
      [org],
    );
    expect(rows).toEqual([{ name: "owners", role: "admin", member: owner.username }]);
  });

  it("logs org_create with the performer and Python-style metadata", async () => {
    const { rows } = await api.sql.query<{ performer: string; metadata_json: string; repository_id: number | null }>(
      `SELECT p.username AS performer, l.metadata_json, l.repository_id FROM logentry3 l
       JOIN logentrykind k ON k.id = l.kind_id JOIN "user" a ON a.id = l.account_id JOIN "user" p ON p.id = l.performer_id
       WHERE k.name = 'org_create' AND a.username = $1`,
      [org],
    );
    expect(rows).toEqual([
      { performer: owner.username, metadata_json: `{"email": "team@example.com", "namespace": "${org}"}`, repository_id: null },
    ]);
  });

  it("refuses taken and invalid names", async () => {
    for (const name of [org, owner.username]) {
      const reply = await api.call("POST", "/api/v1/organization/", { auth: outsider.basic, body: { name } });
      expect(reply.status).toBe(400);
      expect(reply.json.detail).toBe("A user or organization with this name already exists");
    }
    for (const name of ["A", "x", "has space", "trailing-", "UPPER"]) {
      const reply = await api.call("POST", "/api/v1/organization/", { auth: outsider.basic, body: { name } });
      expect(reply.status, name).toBe(400);
      expect(reply.json.detail).toMatch(/^Invalid namespace /);
    }
  });

  it("requires a signed-in user", async () => {
    const reply = await api.call("POST", "/api/v1/organization/", { body: { name: unique("anon") } });
    expect(reply.status).toBe(401);
    expect(reply.json.error_type).toBe("invalid_token");
  });
});

describe("GET /api/v1/organization/<org>", () => {
  it("gives admins the full view with teams", async () => {
    const reply = await api.call("GET", `/api/v1/organization/${org}`, { auth: owner.basic });
    expect(reply.status).toBe(200);
    expect(reply.json).toMatchObject({
      name: org,
      email: "team@example.com",
      is_admin: true,
      is_member: true,
      ordered_teams: ["owners"],
      invoice_email: false,
      invoice_email_address: null,
      tag_expiration_s: 1209600,
      is_free_account: true,
    });
    expect(reply.json.avatar.kind).toBe("user");
    expect(reply.json.teams.owners).toEqual({
      name: "owners",
      description: "",
      role: "admin",
      avatar: { name: "owners", hash: expect.any(String), color: expect.any(String), kind: "team" },
      can_view: true,
      repo_count: 0,
      member_count: 1,
      is_synced: false,
    });
  });

  it("shows admins the contact e-mail an earlier Pier kept beside an internal uuid", async () => {
    const legacy = unique("legacy");
    const created = await api.call("POST", "/api/v1/organization/", { auth: owner.basic, body: { name: legacy } });
    expect(created.status).toBe(201);
    await api.sql.query(
      `INSERT INTO organizationcontactemail (organization_id, contact_email) SELECT id, 'old@example.com' FROM "user" WHERE username = $1`,
      [legacy],
    );
    const reply = await api.call("GET", `/api/v1/organization/${legacy}`, { auth: owner.basic });
    expect(reply.status).toBe(200);
    expect(reply.json.email).toBe("old@example.com");
  });

  it("gives outsiders and anonymous callers the public view", async () => {
    for (const auth of [outsider.basic, undefined]) {
      const reply = await api.call("GET", `/api/v1/organization/${org}`, { auth });
      expect(reply.status).toBe(200);
      expect(reply.json).toEqual({ name: org, email: "", avatar: expect.any(Object), is_admin: false, is_member: false });
    }
  });

  it("shows members the teams, viewable where they belong", async () => {
    const member = await api.user("member");
    expect(
      (await api.call("PUT", `/api/v1/organization/${org}/team/readers`, { auth: owner.basic, body: { role: "member" } })).status,
    ).toBe(200);
    expect(
      (await api.call("PUT", `/api/v1/organization/${org}/team/readers/members/${member.username}`, { auth: owner.basic })).status,
    ).toBe(200);
    const reply = await api.call("GET", `/api/v1/organization/${org}`, { auth: member.basic });
    expect(reply.json).toMatchObject({ is_admin: false, is_member: true, email: "", ordered_teams: ["owners", "readers"] });
    expect(reply.json.teams.owners.can_view).toBe(false);
    expect(reply.json.teams.readers.can_view).toBe(true);
    expect(reply.json).not.toHaveProperty("tag_expiration_s");
  });

  it("answers 404 for missing organizations and for users", async () => {
    for (const name of [unique("nothing"), owner.username]) {
      const reply = await api.call("GET", `/api/v1/organization/${name}`, { auth: owner.basic });
      expect(reply.status).toBe(404);
      expect(reply.json.error_type).toBe("not_found");
    }
  });

  it("lists the organization on the member's user view", async () => {
    const reply = await api.call("GET", "/api/v1/user/", { auth: owner.basic });
    expect(reply.json.organizations).toContainEqual({
      name: org,
      avatar: expect.objectContaining({ kind: "org" }),
      can_create_repo: true,
      public: false,
      is_org_admin: true,
      preferred_namespace: false,
    });
  });
});

describe("DELETE /api/v1/organization/<org>", () => {
  it("marks the organization for deletion as Quay does (204), and the purge job removes it with its robot", async () => {
    const doomed = unique("gone");
    expect((await api.call("POST", "/api/v1/organization/", { auth: owner.basic, body: { name: doomed } })).status).toBe(201);
    expect((await api.call("PUT", `/api/v1/organization/${doomed}/robots/bot`, { auth: owner.basic, body: {} })).status).toBe(201);
    const repo = await api.call("POST", "/api/v1/repository", {
      auth: owner.basic,
      body: { namespace: doomed, repository: "app", visibility: "private", description: "" },
    });
    expect(repo.status).toBe(201);
    const { rows } = await api.sql.query<{ id: number }>(`SELECT id FROM "user" WHERE username = $1`, [doomed]);
    const id = rows[0]!.id;

    expect((await api.call("DELETE", `/api/v1/organization/${doomed}`, { auth: outsider.basic })).status).toBe(403);
    expect((await api.call("DELETE", `/api/v1/organization/${unique("none")}`, { auth: owner.basic })).status).toBe(404);
    expect((await api.call("DELETE", `/api/v1/organization/${doomed}`)).status).toBe(401);
    const deleted = await api.call("DELETE", `/api/v1/organization/${doomed}`, { auth: owner.basic });
    expect(deleted.status).toBe(204);

    // Gone by name at once: renamed, disabled, its robot disabled; a marker and a namespacegc queue item wait for the purge.
    expect((await api.call("GET", `/api/v1/organization/${doomed}`, { auth: owner.basic })).status).toBe(404);
    const marked = await api.sql.query<{ enabled: boolean; username: string; robot_enabled: boolean; marker: string; queued: number }>(
      `SELECT u.enabled, u.username, r.enabled AS robot_enabled, d.original_username AS marker,
              (SELECT count(*)::int FROM queueitem q WHERE q.id::text = d.queue_id AND q.queue_name = $2) AS queued
       FROM "user" u JOIN deletednamespace d ON d.namespace_id = u.id, "user" r WHERE u.id = $1 AND r.username = $3`,
      [id, `namespacegc/${id}/`, `${doomed}+bot`],
    );
    expect(marked.rows[0]).toMatchObject({ enabled: false, robot_enabled: false, marker: doomed, queued: 1 });
    expect(marked.rows[0]!.username).not.toBe(doomed);
    const audit = await api.sql.query<{ metadata_json: string }>(
      `SELECT l.metadata_json FROM logentry3 l JOIN logentrykind k ON k.id = l.kind_id WHERE k.name = 'org_delete' AND l.account_id = $1`,
      [id],
    );
    expect(audit.rows).toEqual([{ metadata_json: `{"namespace": "${doomed}"}` }]);

    const lines: string[] = [];
    await purgeDeleted(api.registry, { dryRun: false, report: (line) => lines.push(line), reclaimed: () => {} });
    expect(lines).toEqual(expect.arrayContaining([`repository ${doomed}/app`, `namespace ${doomed}`]));
    const left = await api.sql.query(`SELECT 1 FROM "user" WHERE id = $1 OR username = $2`, [id, `${doomed}+bot`]);
    expect(left.rows).toEqual([]);
    // The name is free again.
    expect((await api.call("POST", "/api/v1/organization/", { auth: owner.basic, body: { name: doomed } })).status).toBe(201);
  });
});
