/**
 * Teams through /api/v1: creating and updating a team (role, description), its members
 * (users and the organization's robots), the guards that keep an admin, deletion with
 * its grants, the audit entries, and the refusals.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { unique } from "../support/quay-seed.js";
import { startApiHarness, type ApiHarness, type TestUser } from "../support/api-harness.js";

let api: ApiHarness;
let owner: TestUser;
let dev: TestUser;
let outsider: TestUser;
const org = unique("teams");
const base = `/api/v1/organization/${org}/team`;

async function auditKinds(): Promise<{ kind: string; metadata_json: string }[]> {
  const { rows } = await api.sql.query<{ kind: string; metadata_json: string }>(
    `SELECT k.name AS kind, l.metadata_json FROM logentry3 l JOIN logentrykind k ON k.id = l.kind_id JOIN "user" a ON a.id = l.account_id
     WHERE a.username = $1 ORDER BY l.id`,
    [org],
  );
  return rows;
}

beforeAll(async () => {
  api = await startApiHarness("apiteams");
  owner = await api.user("owner");
  dev = await api.user("dev");
  outsider = await api.user("outsider");
  expect((await api.call("POST", "/api/v1/organization/", { auth: owner.basic, body: { name: org } })).status).toBe(201);
});
afterAll(() => api?.close());

describe("PUT /api/v1/organization/<org>/team/<team>", () => {
  it("creates a team with its role and description", async () => {
    const reply = await api.call("PUT", `${base}/builders`, {
      auth: owner.basic,
      body: { role: "creator", description: "Build **things**" },
    });
    expect(reply.status).toBe(200);
    expect(reply.json).toEqual({
      name: "builders",
      description: "Build **things**",
      can_view: true,
      role: "creator",
      avatar: { name: "builders", hash: expect.any(String), color: expect.any(String), kind: "team" },
      new_team: true,
    });
    const { rows } = await api.sql.query(
      `SELECT t.description, tr.name AS role FROM team t JOIN teamrole tr ON tr.id = t.role_id JOIN "user" o ON o.id = t.organization_id
       WHERE o.username = $1 AND t.name = 'builders'`,
      [org],
    );
    expect(rows).toEqual([{ description: "Build **things**", role: "creator" }]);
  });

  it("updates role and description of an existing team, logging each change", async () => {
    const reply = await api.call("PUT", `${base}/builders`, { auth: owner.basic, body: { role: "member", description: "Builders" } });
    expect(reply.json).toMatchObject({ role: "member", description: "Builders", new_team: false });
    const kinds = (await auditKinds()).map((r) => r.kind);
    expect(kinds).toEqual(["org_create", "org_create_team", "org_set_team_description", "org_set_team_role"]);
    const entries = await auditKinds();
    expect(entries[1]!.metadata_json).toBe('{"team": "builders"}');
    expect(entries[3]!.metadata_json).toBe('{"team": "builders", "role": "member"}');
  });

  it("refuses invalid roles and names, and non-admins", async () => {
    const role = await api.call("PUT", `${base}/x1`, { auth: owner.basic, body: { role: "boss" } });
    expect(role.status).toBe(400);
    expect(role.json.detail).toBe("'boss' is not one of ['member', 'creator', 'admin']");
    expect((await api.call("PUT", `${base}/x1`, { auth: owner.basic, body: {} })).json.detail).toBe("'role' is a required property");
    const name = await api.call("PUT", `${base}/Bad Name`, { auth: owner.basic, body: { role: "member" } });
    expect(name.status).toBe(400);
    expect(name.json.detail).toMatch(/^Invalid team name Bad Name: /);
    expect((await api.call("PUT", `${base}/x1`, { auth: outsider.basic, body: { role: "member" } })).status).toBe(403);
    expect((await api.call("PUT", `${base}/x1`, { body: { role: "member" } })).status).toBe(401);
  });

  it("keeps the caller an admin of the organization", async () => {
    const reply = await api.call("PUT", `${base}/owners`, { auth: owner.basic, body: { role: "member" } });
    expect(reply.status).toBe(400);
    expect(reply.json.detail).toBe(
      `Cannot remove admin from team 'owners' because calling user would no longer have admin on org '${org}'`,
    );
    const removal = await api.call("DELETE", `${base}/owners`, { auth: owner.basic });
    expect(removal.status).toBe(400);
    expect(removal.json.detail).toBe(
      `Deleting team 'owners' would remove admin ability for user '${owner.username}' in organization '${org}'`,
    );
    const self = await api.call("DELETE", `${base}/owners/members/${owner.username}`, { auth: owner.basic });
    expect(self.status).toBe(400);
    expect(self.json.detail).toBe("User cannot remove themselves from their only admin team.");
  });

  it("lets superusers manage teams of organizations they are not in", async () => {
    const reply = await api.call("PUT", `${base}/ops`, { auth: api.root.basic, body: { role: "member" } });
    expect(reply.status).toBe(200);
    expect(reply.json).toMatchObject({ name: "ops", can_view: false, new_team: true });
    expect(
      (await api.call("PUT", `/api/v1/organization/${unique("none")}/team/ops`, { auth: api.root.basic, body: { role: "member" } })).status,
    ).toBe(404);
  });
});

describe("team members", () => {
  it("adds users and the organization's robots", async () => {
    const user = await api.call("PUT", `${base}/builders/members/${dev.username}`, { auth: owner.basic });
    expect(user.status).toBe(200);
    expect(user.json).toEqual({
      name: dev.username,
      kind: "user",
      is_robot: false,
      avatar: expect.objectContaining({ kind: "user" }),
      invited: false,
    });
    expect((await api.call("PUT", `/api/v1/organization/${org}/robots/ci`, { auth: owner.basic })).status).toBe(201);
    const robot = await api.call("PUT", `${base}/builders/members/${org}+ci`, { auth: owner.basic });
    expect(robot.json).toMatchObject({ name: `${org}+ci`, is_robot: true, avatar: expect.objectContaining({ kind: "robot" }) });

    const members = await api.call("GET", `${base}/builders/members`, { auth: owner.basic });
    expect(members.status).toBe(200);
    expect(members.json.name).toBe("builders");
    expect(members.json.can_edit).toBe(true);
    expect(members.json.members.map((m: { name: string }) => m.name).sort()).toEqual([dev.username, `${org}+ci`].sort());
  });

  it("refuses unknown users, organizations, foreign robots and duplicates", async () => {
    const unknown = await api.call("PUT", `${base}/builders/members/${unique("ghost")}`, { auth: owner.basic });
    expect(unknown.status).toBe(400);
    expect(unknown.json.detail).toBe("Unknown user");
    expect((await api.call("PUT", `${base}/builders/members/${org}`, { auth: owner.basic })).json.detail).toBe("Unknown user");
    expect((await api.call("PUT", "/api/v1/user/robots/stray", { auth: outsider.basic })).status).toBe(201);
    const foreign = await api.call("PUT", `${base}/builders/members/${outsider.username}+stray`, { auth: owner.basic });
    expect(foreign.status).toBe(400);
    expect(foreign.json.detail).toBe("Cannot add the specified robot to this team, as it is not a member of the organization");
    const twice = await api.call("PUT", `${base}/builders/members/${dev.username}`, { auth: owner.basic });
    expect(twice.status).toBe(400);
    expect(twice.json.detail).toBe(`User ${dev.username} is already a member of team builders`);
    expect((await api.call("PUT", `${base}/nosuchteam/members/${dev.username}`, { auth: owner.basic })).status).toBe(404);
  });

  it("shows members to the team and admins only", async () => {
    const asDev = await api.call("GET", `${base}/builders/members`, { auth: dev.basic });
    expect(asDev.status).toBe(200);
    expect(asDev.json.can_edit).toBe(false);
    expect((await api.call("GET", `${base}/owners/members`, { auth: dev.basic })).status).toBe(403);
    expect((await api.call("GET", `${base}/builders/members`, { auth: outsider.basic })).status).toBe(403);
    expect((await api.call("GET", `${base}/builders/members`)).status).toBe(401);
    expect((await api.call("GET", `${base}/nosuchteam/members`, { auth: owner.basic })).status).toBe(404);
  });

  it("removes members, and says when someone is not one", async () => {
    const removed = await api.call("DELETE", `${base}/builders/members/${org}+ci`, { auth: owner.basic });
    expect(removed.status).toBe(204);
    const again = await api.call("DELETE", `${base}/builders/members/${org}+ci`, { auth: owner.basic });
    expect(again.status).toBe(400);
    expect(again.json.detail).toBe(`User ${org}+ci does not belong to team builders`);
    expect((await api.call("DELETE", `${base}/builders/members/${unique("ghost")}`, { auth: owner.basic })).status).toBe(404);
    const entries = (await auditKinds()).filter((r) => r.kind.endsWith("team_member"));
    expect(entries.map((r) => r.kind)).toEqual(["org_add_team_member", "org_add_team_member", "org_remove_team_member"]);
    expect(entries[2]!.metadata_json).toBe(`{"member": "${org}+ci", "team": "builders"}`);
  });

  it("counts members and grants in the organization view", async () => {
    const reply = await api.call("GET", `/api/v1/organization/${org}`, { auth: owner.basic });
    expect(reply.json.teams.builders).toMatchObject({ member_count: 1, repo_count: 0, role: "member" });
  });
});

describe("DELETE /api/v1/organization/<org>/team/<team>", () => {
  it("deletes the team with its members and repository grants", async () => {
    await api.call("POST", "/api/v1/repository", {
      auth: owner.basic,
      body: { namespace: org, repository: "app", visibility: "private", description: "" },
    });
    expect(
      (await api.call("PUT", `/api/v1/repository/${org}/app/permissions/team/builders`, { auth: owner.basic, body: { role: "write" } }))
        .status,
    ).toBe(200);
    const { rows } = await api.sql.query<{ id: number }>(
      `SELECT t.id FROM team t JOIN "user" o ON o.id = t.organization_id WHERE o.username = $1 AND t.name = 'builders'`,
      [org],
    );
    const teamId = rows[0]!.id;
    expect((await api.call("DELETE", `${base}/builders`, { auth: owner.basic })).status).toBe(204);
    for (const table of ["team WHERE id", "teammember WHERE team_id", "repositorypermission WHERE team_id"]) {
      expect((await api.sql.query(`SELECT 1 FROM ${table} = $1`, [teamId])).rows, table).toHaveLength(0);
    }
    const missing = await api.call("DELETE", `${base}/builders`, { auth: owner.basic });
    expect(missing.status).toBe(404);
    expect(missing.json.detail).toBe(`Team 'builders' is not a team in org '${org}'`);
    expect((await api.call("DELETE", `${base}/ops`, { auth: dev.basic })).status).toBe(403);
  });
});
