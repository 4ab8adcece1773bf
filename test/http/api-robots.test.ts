/**
 * Robot accounts through /api/v1: the rows Quay's create_robot writes (robot user row,
 * encrypted token, metadata, quayrobot federated login), the token logging in at
 * /v2/auth with the grants its permissions give, regeneration and deletion revoking
 * the old token, user robots, and the refusals.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FieldEncrypter } from "../../src/core/auth/field-encryption.js";
import { unique } from "../support/quay-seed.js";
import { API_HOST, basicAuth, SECRET_KEY, startApiHarness, tokenAccess, type ApiHarness, type TestUser } from "../support/api-harness.js";

let api: ApiHarness;
let owner: TestUser;
let member: TestUser;
const org = unique("robots");
const TOKEN = /^[A-Z0-9]{64}$/;
const RFC2822 = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} -0000$/;

beforeAll(async () => {
  api = await startApiHarness("apirobots");
  owner = await api.user("owner");
  member = await api.user("member");
  expect((await api.call("POST", "/api/v1/organization/", { auth: owner.basic, body: { name: org } })).status).toBe(201);
  expect((await api.call("PUT", `/api/v1/organization/${org}/team/devs`, { auth: owner.basic, body: { role: "member" } })).status).toBe(
    200,
  );
  expect((await api.call("PUT", `/api/v1/organization/${org}/team/devs/members/${member.username}`, { auth: owner.basic })).status).toBe(
    200,
  );
  const repo = { namespace: org, repository: "app", visibility: "private", description: "" };
  expect((await api.call("POST", "/api/v1/repository", { auth: owner.basic, body: repo })).status).toBe(201);
});
afterAll(() => api?.close());

/** `/v2/auth` as a client logs in: status and, when issued, the actions granted on `repo`. */
async function registryLogin(
  username: string,
  password: string,
  repo = `${org}/app`,
): Promise<{ status: number; actions: string[] | null }> {
  const query = new URLSearchParams({ service: API_HOST, scope: `repository:${repo}:pull,push` });
  const response = await api.app.request(`https://${API_HOST}/v2/auth?${query}`, {
    headers: { authorization: basicAuth(username, password) },
  });
  const body = (await response.json()) as { token?: string };
  return { status: response.status, actions: body.token ? tokenAccess(body.token)[0]!.actions : null };
}

async function createRobot(shortname: string, body?: unknown) {
  return api.call("PUT", `/api/v1/organization/${org}/robots/${shortname}`, { auth: owner.basic, body });
}

describe("PUT /api/v1/organization/<org>/robots/<short>", () => {
  it("answers 201 with the robot and its 64-character token", async () => {
    const reply = await createRobot("builder", { description: "CI builds", unstructured_metadata: { team: "ci", n: 1 } });
    expect(reply.status).toBe(201);
    expect(reply.json).toEqual({
      name: `${org}+builder`,
      created: expect.stringMatching(RFC2822),
      last_accessed: null,
      description: "CI builds",
      token: expect.stringMatching(TOKEN),
      unstructured_metadata: { team: "ci", n: 1 },
    });
  });

  it("writes the robot's rows as Quay does, the token encrypted with the database secret key", async () => {
    const reply = await createRobot("rows");
    const { rows } = await api.sql.query<Record<string, unknown>>(
      `SELECT u.id, u.uuid, u.email, u.robot, u.organization, u.verified, u.enabled, u.password_hash, u.removed_tag_expiration_s::int AS expiration,
              t.token, t.fully_migrated, m.description, m.unstructured_json, s.name AS service, f.service_ident, f.metadata_json
       FROM "user" u JOIN robotaccounttoken t ON t.robot_account_id = u.id JOIN robotaccountmetadata m ON m.robot_account_id = u.id
       JOIN federatedlogin f ON f.user_id = u.id JOIN loginservice s ON s.id = f.service_id WHERE u.username = $1`,
      [`${org}+rows`],
    );
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    expect(row).toMatchObject({
      robot: true,
      organization: false,
      verified: false,
      enabled: true,
      password_hash: null,
      expiration: 1209600,
      fully_migrated: true,
      description: "",
      unstructured_json: "{}",
      service: "quayrobot",
      service_ident: `robot:${row.id}`,
      metadata_json: "{}",
    });
    expect(row.email).toMatch(/^[0-9a-f-]{36}$/);
    expect(row.token).toMatch(/^v0\$\$/);
    expect(await new FieldEncrypter(SECRET_KEY).decrypt(row.token as string)).toBe(reply.json.token);
  });

  it("logs create_robot", async () => {
    const { rows } = await api.sql.query<{ metadata_json: string }>(
      `SELECT l.metadata_json FROM logentry3 l JOIN logentrykind k ON k.id = l.kind_id JOIN "user" a ON a.id = l.account_id
       WHERE k.name = 'create_robot' AND a.username = $1 ORDER BY l.id`,
      [org],
    );
    expect(rows[0]!.metadata_json).toBe(
      '{"robot": "builder", "description": "CI builds", "unstructured_metadata": {"team": "ci", "n": 1}}',
    );
    expect(rows[1]!.metadata_json).toBe('{"robot": "rows", "description": null, "unstructured_metadata": null}');
  });

  it("refuses duplicates, invalid names and oversized descriptions", async () => {
    const duplicate = await createRobot("builder");
    expect(duplicate.status).toBe(400);
    expect(duplicate.json.detail).toBe(`Existing robot with name: ${org}+builder`);
    for (const name of ["Bad", "a", "x--y", "dot."]) {
      const reply = await createRobot(name);
      expect(reply.status, name).toBe(400);
      expect(reply.json.detail).toMatch(new RegExp(`^The name for the robot '${name.replace(".", "\\.")}' is invalid: `));
    }
    const long = await createRobot("longdesc", { description: "x".repeat(256) });
    expect(long.status).toBe(400);
    expect(long.json.detail).toMatch(/is too long$/);
  });

  it("is for organization admins only", async () => {
    const asMember = await api.call("PUT", `/api/v1/organization/${org}/robots/nope`, { auth: member.basic });
    expect(asMember.status).toBe(403);
    expect(asMember.json.error_type).toBe("insufficient_scope");
    const anonymous = await api.call("PUT", `/api/v1/organization/${org}/robots/nope`);
    expect(anonymous.status).toBe(401);
    const elsewhere = await api.call("PUT", `/api/v1/organization/${unique("missing")}/robots/nope`, { auth: owner.basic });
    expect(elsewhere.status).toBe(403);
  });
});

describe("robot tokens at /v2/auth", () => {
  it("log in, and grant pushes only after a permission is set", async () => {
    const robot = await createRobot("pusher");
    const token = robot.json.token as string;
    expect(await registryLogin(`${org}+pusher`, token)).toEqual({ status: 200, actions: [] });
    const grant = await api.call("PUT", `/api/v1/repository/${org}/app/permissions/user/${org}+pusher`, {
      auth: owner.basic,
      body: { role: "write" },
    });
    expect(grant.status).toBe(200);
    expect(await registryLogin(`${org}+pusher`, token)).toEqual({ status: 200, actions: ["pull", "push"] });
    await api.call("PUT", `/api/v1/repository/${org}/app/permissions/user/${org}+pusher`, { auth: owner.basic, body: { role: "read" } });
    expect(await registryLogin(`${org}+pusher`, token)).toEqual({ status: 200, actions: ["pull"] });
    expect((await registryLogin(`${org}+pusher`, "A".repeat(64))).status).toBe(401);
  });

  it("stop working when regenerated; the new one works", async () => {
    const old = (await createRobot("rotating")).json.token as string;
    const before = await api.sql.query<{ email: string; uuid: string }>(`SELECT email, uuid FROM "user" WHERE username = $1`, [
      `${org}+rotating`,
    ]);
    const reply = await api.call("POST", `/api/v1/organization/${org}/robots/rotating/regenerate`, { auth: owner.basic });
    expect(reply.status).toBe(200);
    expect(reply.json).toEqual({
      name: `${org}+rotating`,
      created: expect.stringMatching(RFC2822),
      last_accessed: null,
      description: "",
      token: expect.stringMatching(TOKEN),
    });
    expect(reply.json.token).not.toBe(old);
    expect((await registryLogin(`${org}+rotating`, old)).status).toBe(401);
    expect((await registryLogin(`${org}+rotating`, reply.json.token)).status).toBe(200);
    const after = await api.sql.query<{ email: string; uuid: string }>(`SELECT email, uuid FROM "user" WHERE username = $1`, [
      `${org}+rotating`,
    ]);
    expect(after.rows[0]!.email).not.toBe(before.rows[0]!.email);
    expect(after.rows[0]!.uuid).not.toBe(before.rows[0]!.uuid);
  });

  it("stop working when the robot is deleted, with its rows and grants", async () => {
    const token = (await createRobot("doomed")).json.token as string;
    await api.call("PUT", `/api/v1/repository/${org}/app/permissions/user/${org}+doomed`, { auth: owner.basic, body: { role: "read" } });
    await api.call("PUT", `/api/v1/organization/${org}/team/devs/members/${org}+doomed`, { auth: owner.basic });
    const { rows } = await api.sql.query<{ id: number }>(`SELECT id FROM "user" WHERE username = $1`, [`${org}+doomed`]);
    const id = rows[0]!.id;

    const reply = await api.call("DELETE", `/api/v1/organization/${org}/robots/doomed`, { auth: owner.basic });
    expect(reply.status).toBe(204);
    expect((await registryLogin(`${org}+doomed`, token)).status).toBe(401);
    for (const table of [
      "robotaccounttoken WHERE robot_account_id",
      "robotaccountmetadata WHERE robot_account_id",
      "federatedlogin WHERE user_id",
      "teammember WHERE user_id",
      "repositorypermission WHERE user_id",
      '"user" WHERE id',
    ]) {
      const left = await api.sql.query(`SELECT 1 FROM ${table} = $1`, [id]);
      expect(left.rows, table).toHaveLength(0);
    }
    expect((await api.call("GET", `/api/v1/organization/${org}/robots/doomed`, { auth: owner.basic })).status).toBe(404);
    const again = await api.call("DELETE", `/api/v1/organization/${org}/robots/doomed`, { auth: owner.basic });
    expect(again.status).toBe(404);
    expect(again.json.detail).toBe(`Could not find robot with username: ${org}+doomed`);
  });

  it("are kept while an organization mirror uses them (400)", async () => {
    const mirrored = unique("mirrored");
    expect((await api.call("POST", "/api/v1/organization/", { auth: owner.basic, body: { name: mirrored } })).status).toBe(201);
    expect((await api.call("PUT", `/api/v1/organization/${mirrored}/robots/mirrorbot`, { auth: owner.basic })).status).toBe(201);
    await api.sql.query(
      `INSERT INTO orgmirrorconfig (organization_id, creation_date, external_registry_type, external_registry_url, external_namespace,
         external_registry_config, internal_robot_id, repository_filters, visibility_id, sync_interval)
       SELECT o.id, now(), 1, 'https://quay.example', 'upstream', '{}', r.id, '[]', (SELECT id FROM visibility WHERE name = 'private'), 3600
       FROM "user" o, "user" r WHERE o.username = $1 AND r.username = $2`,
      [mirrored, `${mirrored}+mirrorbot`],
    );
    const reply = await api.call("DELETE", `/api/v1/organization/${mirrored}/robots/mirrorbot`, { auth: owner.basic });
    expect(reply.status).toBe(400);
    expect(reply.json.error_message).toBe("Robot is being used by a mirror");
  });
});

describe("reading robots", () => {
  it("GET returns the robot with its token and metadata to admins", async () => {
    const reply = await api.call("GET", `/api/v1/organization/${org}/robots/builder`, { auth: owner.basic });
    expect(reply.status).toBe(200);
    expect(reply.json).toMatchObject({
      name: `${org}+builder`,
      description: "CI builds",
      token: expect.stringMatching(TOKEN),
      unstructured_metadata: { team: "ci", n: 1 },
    });
    expect((await api.call("GET", `/api/v1/organization/${org}/robots/builder`, { auth: member.basic })).status).toBe(403);
    expect((await api.call("GET", `/api/v1/organization/${org}/robots/ghost`, { auth: owner.basic })).status).toBe(404);
  });

  it("lists robots: tokens and grants for admins, names for members, nothing for outsiders", async () => {
    const admin = await api.call("GET", `/api/v1/organization/${org}/robots?permissions=true`, { auth: owner.basic });
    expect(admin.status).toBe(200);
    const pusher = admin.json.robots.find((r: { name: string }) => r.name === `${org}+pusher`);
    expect(pusher).toEqual({
      name: `${org}+pusher`,
      created: expect.stringMatching(RFC2822),
      last_accessed: null,
      description: "",
      token: expect.stringMatching(TOKEN),
      teams: [],
      repositories: ["app"],
    });
    const names = admin.json.robots.map((r: { name: string }) => r.name).sort();
    expect(names).toEqual([`${org}+builder`, `${org}+pusher`, `${org}+rotating`, `${org}+rows`]);

    const plain = await api.call("GET", `/api/v1/organization/${org}/robots?token=false&limit=2`, { auth: owner.basic });
    expect(plain.json.robots).toHaveLength(2);
    expect(plain.json.robots[0]).not.toHaveProperty("token");

    const asMember = await api.call("GET", `/api/v1/organization/${org}/robots`, { auth: member.basic });
    expect(asMember.status).toBe(200);
    expect(asMember.json.robots).toHaveLength(4);
    expect(asMember.json.robots[0]).not.toHaveProperty("token");

    const outsider = await api.user("outsider");
    expect((await api.call("GET", `/api/v1/organization/${org}/robots`, { auth: outsider.basic })).status).toBe(403);
    expect((await api.call("GET", `/api/v1/organization/${org}/robots?limit=x`, { auth: owner.basic })).status).toBe(400);
  });
});

describe("/api/v1/user/robots", () => {
  it("creates, lists, regenerates and deletes the caller's own robots", async () => {
    const user = await api.user("solo");
    const created = await api.call("PUT", "/api/v1/user/robots/deployer", { auth: user.basic, body: { description: "deploys" } });
    expect(created.status).toBe(201);
    expect(created.json.name).toBe(`${user.username}+deployer`);
    expect((await registryLogin(`${user.username}+deployer`, created.json.token, `${user.username}/app`)).status).toBe(200);

    const list = await api.call("GET", "/api/v1/user/robots", { auth: user.basic });
    expect(list.json.robots.map((r: { name: string }) => r.name)).toEqual([`${user.username}+deployer`]);
    expect((await api.call("GET", "/api/v1/user/robots/deployer", { auth: user.basic })).json.description).toBe("deploys");

    const regenerated = await api.call("POST", "/api/v1/user/robots/deployer/regenerate", { auth: user.basic });
    expect(regenerated.json.token).not.toBe(created.json.token);
    expect((await api.call("DELETE", "/api/v1/user/robots/deployer", { auth: user.basic })).status).toBe(204);
    expect((await registryLogin(`${user.username}+deployer`, regenerated.json.token, `${user.username}/app`)).status).toBe(401);
    expect((await api.call("GET", "/api/v1/user/robots")).status).toBe(401);
  });
});

describe("without a database secret key", () => {
  it("refuses to create robots with an API error that says what to configure", async () => {
    const bare = await startApiHarness("apirobotsnokey", { PIER_DATABASE_SECRET_KEY: "" });
    try {
      const reply = await bare.call("PUT", "/api/v1/user/robots/bot", { auth: bare.root.basic });
      expect(reply.status).toBe(400);
      expect(reply.json.error_type).toBe("invalid_request");
      expect(reply.json.detail).toMatch(/PIER_DATABASE_SECRET_KEY/);
      const rows = await bare.sql.query(`SELECT 1 FROM "user" WHERE robot = true`);
      expect(rows.rows).toHaveLength(0);
    } finally {
      await bare.close();
    }
  });
});
