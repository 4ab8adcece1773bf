/**
 * Repository permissions through /api/v1: users, robots and teams; the views with
 * organization membership; the rules (owner stays admin, robots of this namespace only,
 * teams of this organization); the audit entries; and the effect on /v2/auth grants,
 * with the repository's pull-cache generation bumped on every change.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generationKey } from "../../src/core/resources/pull-cache.js";
import { unique } from "../support/quay-seed.js";
import { API_HOST, basicAuth, startApiHarness, tokenAccess, type ApiHarness, type TestUser } from "../support/api-harness.js";

let api: ApiHarness;
let owner: TestUser;
let member: TestUser;
let outsider: TestUser;
let robotToken: string;
const org = unique("perms");
const repo = `${org}/app`;
const users = `/api/v1/repository/${repo}/permissions/user`;
const teams = `/api/v1/repository/${repo}/permissions/team`;

beforeAll(async () => {
  api = await startApiHarness("apiperms");
  owner = await api.user("owner");
  member = await api.user("member");
  outsider = await api.user("outsider");
  expect((await api.call("POST", "/api/v1/organization/", { auth: owner.basic, body: { name: org } })).status).toBe(201);
  expect((await api.call("PUT", `/api/v1/organization/${org}/team/devs`, { auth: owner.basic, body: { role: "member" } })).status).toBe(
    200,
  );
  expect((await api.call("PUT", `/api/v1/organization/${org}/team/devs/members/${member.username}`, { auth: owner.basic })).status).toBe(
    200,
  );
  robotToken = (await api.call("PUT", `/api/v1/organization/${org}/robots/ci`, { auth: owner.basic })).json.token;
  expect(
    (
      await api.call("POST", "/api/v1/repository", {
        auth: owner.basic,
        body: { namespace: org, repository: "app", visibility: "private", description: "" },
      })
    ).status,
  ).toBe(201);
});
afterAll(() => api?.close());

async function pullActions(username: string, password: string): Promise<string[]> {
  const query = new URLSearchParams({ service: API_HOST, scope: `repository:${repo}:pull,push` });
  const response = await api.app.request(`https://${API_HOST}/v2/auth?${query}`, {
    headers: { authorization: basicAuth(username, password) },
  });
  return tokenAccess(((await response.json()) as { token: string }).token)[0]!.actions;
}

async function generation(): Promise<string | null> {
  return api.registry.cache.get(generationKey(repo));
}

async function auditMetadata(kind: string): Promise<string[]> {
  const { rows } = await api.sql.query<{ metadata_json: string }>(
    `SELECT l.metadata_json FROM logentry3 l JOIN logentrykind k ON k.id = l.kind_id JOIN repository r ON r.id = l.repository_id
     JOIN "user" n ON n.id = r.namespace_user_id WHERE k.name = $1 AND n.username = $2 AND r.name = 'app' ORDER BY l.id`,
    [kind, org],
  );
  return rows.map((r) => r.metadata_json);
}

describe("user and robot permissions", () => {
  it("grant a member read access, visible at /v2/auth and in the views", async () => {
    expect(await pullActions(member.username, member.password)).toEqual([]);
    const before = await generation();
    const reply = await api.call("PUT", `${users}/${member.username}`, { auth: owner.basic, body: { role: "read" } });
    expect(reply.status).toBe(200);
    expect(reply.json).toEqual({
      role: "read",
      name: member.username,
      is_robot: false,
      avatar: expect.objectContaining({ kind: "user" }),
      is_org_member: true,
    });
    expect(await generation()).not.toBe(before);
    expect(await pullActions(member.username, member.password)).toEqual(["pull"]);
    expect((await api.call("GET", `${users}/${member.username}`, { auth: owner.basic })).json).toMatchObject({
      role: "read",
      is_org_member: true,
    });
  });

  it("grant this organization's robots, and outsiders as non-members", async () => {
    const robot = await api.call("PUT", `${users}/${org}+ci`, { auth: owner.basic, body: { role: "write" } });
    expect(robot.json).toMatchObject({
      role: "write",
      name: `${org}+ci`,
      is_robot: true,
      is_org_member: true,
      avatar: expect.objectContaining({ kind: "robot" }),
    });
    expect(await pullActions(`${org}+ci`, robotToken)).toEqual(["pull", "push"]);
    const outside = await api.call("PUT", `${users}/${outsider.username}`, { auth: owner.basic, body: { role: "admin" } });
    expect(outside.json).toMatchObject({ role: "admin", is_org_member: false });

    const list = await api.call("GET", `${users}/`, { auth: owner.basic });
    expect(list.status).toBe(200);
    expect(Object.keys(list.json.permissions).sort()).toEqual([member.username, outsider.username, owner.username, `${org}+ci`].sort());
    expect(list.json.permissions[owner.username]).toMatchObject({ role: "admin", is_org_member: true });
    expect((await api.call("GET", users, { auth: owner.basic })).json).toEqual(list.json);
  });

  it("change and remove grants, logging each", async () => {
    await api.call("PUT", `${users}/${member.username}`, { auth: owner.basic, body: { role: "write" } });
    expect(await pullActions(member.username, member.password)).toEqual(["pull", "push"]);
    const before = await generation();
    expect((await api.call("DELETE", `${users}/${member.username}`, { auth: owner.basic })).status).toBe(204);
    expect(await generation()).not.toBe(before);
    expect(await pullActions(member.username, member.password)).toEqual([]);
    const missing = await api.call("GET", `${users}/${member.username}`, { auth: owner.basic });
    expect(missing.status).toBe(404);
    expect(missing.json.detail).toBe("User does not have permission for repo.");
    const again = await api.call("DELETE", `${users}/${member.username}`, { auth: owner.basic });
    expect(again.status).toBe(400);
    expect(again.json.detail).toBe("User does not have permission for repo.");

    expect((await auditMetadata("change_repo_permission"))[0]).toBe(
      `{"username": "${member.username}", "repo": "app", "namespace": "${org}", "role": "read"}`,
    );
    expect(await auditMetadata("delete_repo_permission")).toEqual([
      `{"username": "${member.username}", "repo": "app", "namespace": "${org}"}`,
    ]);
  });

  it("refuse the namespace owner, unknown users, organizations, foreign robots and bad roles", async () => {
    const ownerChange = await api.call("PUT", `${users}/${org}`, { auth: owner.basic, body: { role: "read" } });
    expect(ownerChange.status).toBe(400);
    expect(ownerChange.json.detail).toBe("Namespace owner must always be admin.");
    const ghost = unique("ghost");
    expect((await api.call("PUT", `${users}/${ghost}`, { auth: owner.basic, body: { role: "read" } })).json.detail).toBe(
      `Invalid username: ${ghost}`,
    );
    const otherOrg = unique("otherorg");
    expect((await api.call("POST", "/api/v1/organization/", { auth: outsider.basic, body: { name: otherOrg } })).status).toBe(201);
    expect((await api.call("PUT", `${users}/${otherOrg}`, { auth: owner.basic, body: { role: "read" } })).json.detail).toBe(
      `Invalid username: ${otherOrg}`,
    );
    expect((await api.call("PUT", `/api/v1/organization/${otherOrg}/robots/bot`, { auth: outsider.basic })).status).toBe(201);
    const foreign = await api.call("PUT", `${users}/${otherOrg}+bot`, { auth: owner.basic, body: { role: "read" } });
    expect(foreign.status).toBe(400);
    expect(foreign.json.detail).toBe(`Cannot add robot ${otherOrg}+bot under namespace ${org}`);
    expect((await api.call("PUT", `${users}/${outsider.username}`, { auth: owner.basic, body: { role: "owner" } })).json.detail).toBe(
      "'owner' is not one of ['read', 'write', 'admin']",
    );
  });

  it("are for repository admins only", async () => {
    expect((await api.call("GET", `${users}/`, { auth: member.basic })).status).toBe(403);
    expect((await api.call("GET", `${users}/`)).status).toBe(401);
    // The outsider was made admin of this repository above.
    expect((await api.call("GET", `${users}/`, { auth: outsider.basic })).status).toBe(200);
    expect((await api.call("GET", `/api/v1/repository/${org}/ghost/permissions/user/`, { auth: owner.basic })).status).toBe(404);
  });

  it("in a user's namespace have no organization membership field", async () => {
    await api.call("POST", "/api/v1/repository", {
      auth: owner.basic,
      body: { repository: "own", visibility: "private", description: "" },
    });
    const list = await api.call("GET", `/api/v1/repository/${owner.username}/own/permissions/user/`, { auth: owner.basic });
    expect(list.json.permissions).toEqual({
      [owner.username]: { role: "admin", name: owner.username, is_robot: false, avatar: expect.any(Object) },
    });
  });
});

describe("team permissions", () => {
  it("grant a team of the organization, visible to its members at /v2/auth", async () => {
    const reply = await api.call("PUT", `${teams}/devs`, { auth: owner.basic, body: { role: "write" } });
    expect(reply.status).toBe(200);
    expect(reply.json).toEqual({ role: "write", name: "devs", avatar: expect.objectContaining({ kind: "team" }) });
    expect(await pullActions(member.username, member.password)).toEqual(["pull", "push"]);
    expect((await api.call("GET", `${teams}/devs`, { auth: owner.basic })).json).toEqual({ role: "write" });
    expect((await api.call("GET", `${teams}/`, { auth: owner.basic })).json.permissions).toEqual({ devs: reply.json });
    expect((await auditMetadata("change_repo_permission")).at(-1)).toBe('{"team": "devs", "repo": "app", "role": "write"}');
  });

  it("refuse teams of other organizations and missing grants", async () => {
    const missing = await api.call("PUT", `${teams}/nosuch`, { auth: owner.basic, body: { role: "read" } });
    expect(missing.status).toBe(400);
    expect(missing.json.detail).toBe(`No team nosuch in organization ${org}`);
    expect((await api.call("GET", `${teams}/nosuch`, { auth: owner.basic })).status).toBe(404);
    expect((await api.call("DELETE", `${teams}/nosuch`, { auth: owner.basic })).json.detail).toBe(
      "Team does not have permission for repo.",
    );
  });

  it("are removed, and the members lose access", async () => {
    const before = await generation();
    expect((await api.call("DELETE", `${teams}/devs`, { auth: owner.basic })).status).toBe(204);
    expect(await generation()).not.toBe(before);
    expect(await pullActions(member.username, member.password)).toEqual([]);
    expect((await auditMetadata("delete_repo_permission")).at(-1)).toBe('{"team": "devs", "repo": "app"}');
  });
});
