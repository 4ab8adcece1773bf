/**
 * Repository mirroring through /api/v1/repository/<ns>/<repo>/mirror: Quay's shapes,
 * status codes, texts and audit entries, the rows (rule, config with encrypted
 * credentials, MIRROR state, the robot's write grant), sync-now and sync-cancel, the
 * refusals (flag off, non-admins, bad bodies, SSRF targets, unknown robots) leaving
 * nothing half-saved, and /v2/auth granting push on a mirrored repository to its robot only.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FieldEncrypter } from "../../src/core/auth/field-encryption.js";
import { createApp } from "../../src/http/app.js";
import { unique } from "../support/quay-seed.js";
import {
  API_HOST,
  basicAuth,
  organizationWithMembers,
  SECRET_KEY,
  startApiHarness,
  tokenAccess,
  type ApiHarness,
  type TestUser,
} from "../support/api-harness.js";

let api: ApiHarness;
let owner: TestUser;
let member: TestUser;
let writer: TestUser;
const org = unique("mirrororg");
let robotToken: string;

function problem(status: number, errorType: string, detail: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ...extra,
    detail,
    error_message: detail,
    error_type: errorType,
    title: errorType,
    type: `https://${API_HOST}/api/v1/error/${errorType}`,
    status,
  };
}

async function newRepository(name = unique("repo")): Promise<string> {
  const body = { namespace: org, repository: name, visibility: "private", description: "" };
  expect((await api.call("POST", "/api/v1/repository", { auth: owner.basic, body })).status).toBe(201);
  return name;
}

const mirrorPath = (repo: string, suffix = "") => `/api/v1/repository/${org}/${repo}/mirror${suffix}`;

function validBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    external_reference: "quay.io/team/app",
    sync_interval: 3600,
    sync_start_date: "2030-01-02T03:04:05Z",
    root_rule: { rule_kind: "tag_glob_csv", rule_value: ["latest", "v1.*"] },
    skopeo_timeout_interval: 300,
    robot_username: `${org}+syncer`,
    ...overrides,
  };
}

async function rows(repo: string) {
  const config = await api.sql.query<Record<string, unknown>>(
    `SELECT m.*, m.sync_start_date::text AS start_text FROM repomirrorconfig m JOIN repository r ON r.id = m.repository_id
     JOIN "user" n ON n.id = r.namespace_user_id WHERE n.username = $1 AND r.name = $2`,
    [org, repo],
  );
  const rules = await api.sql.query<{ rule_type: number; rule_value: string }>(
    `SELECT rule_type, rule_value FROM repomirrorrule x JOIN repository r ON r.id = x.repository_id
     JOIN "user" n ON n.id = r.namespace_user_id WHERE n.username = $1 AND r.name = $2`,
    [org, repo],
  );
  const state = await api.sql.query<{ state: number }>(
    `SELECT r.state FROM repository r JOIN "user" n ON n.id = r.namespace_user_id WHERE n.username = $1 AND r.name = $2`,
    [org, repo],
  );
  return { config: config.rows, rules: rules.rows, state: state.rows[0]?.state };
}

async function audits(repo: string): Promise<{ kind: string; performer: string | null; metadata: unknown }[]> {
  const { rows } = await api.sql.query<{ kind: string; performer: string | null; metadata_json: string }>(
    `SELECT k.name AS kind, p.username AS performer, l.metadata_json FROM logentry3 l JOIN logentrykind k ON k.id = l.kind_id
     JOIN repository r ON r.id = l.repository_id LEFT JOIN "user" p ON p.id = l.performer_id
     WHERE r.name = $1 AND (k.name LIKE 'repo_mirror%' OR k.name = 'change_repo_state') ORDER BY l.id`,
    [repo],
  );
  return rows.map((r) => ({ kind: r.kind, performer: r.performer, metadata: JSON.parse(r.metadata_json) }));
}

async function registryLogin(username: string, password: string, repo: string): Promise<string[]> {
  const query = new URLSearchParams({ service: API_HOST, scope: `repository:${org}/${repo}:pull,push` });
  const response = await api.app.request(`https://${API_HOST}/v2/auth?${query}`, { headers: { authorization: basicAuth(username, password) } });
  expect(response.status).toBe(200);
  const body = (await response.json()) as { token: string };
  return tokenAccess(body.token)[0]!.actions;
}

beforeAll(async () => {
  api = await startApiHarness("apimirror", { PIER_REPO_MIRROR: "true", PIER_SSRF_ALLOWED_HOSTS: "allowed.internal" });
  ({ owner, member } = await organizationWithMembers(api, org));
  writer = await api.user("writer");
  const robot = await api.call("PUT", `/api/v1/organization/${org}/robots/syncer`, { auth: owner.basic });
  expect(robot.status).toBe(201);
  robotToken = robot.json.token;
  expect((await api.call("POST", `/api/v1/organization/`, { auth: writer.basic, body: { name: `${org}x` } })).status).toBe(201);
  expect((await api.call("PUT", `/api/v1/organization/${org}x/robots/other`, { auth: writer.basic })).status).toBe(201);
});
afterAll(() => api?.close());

describe("POST /api/v1/repository/<ns>/<repo>/mirror", () => {
  it('creates the mirror: 201 "", Quay\'s rows, MIRROR state, the robot given write, encrypted credentials, the audit entry', async () => {
    const repo = await newRepository();
    const body = validBody({ external_registry_username: "puller", external_registry_password: "s3cret", external_registry_config: { verify_tls: true } });
    const reply = await api.call("POST", mirrorPath(repo), { auth: owner.basic, body });
    expect(reply.status).toBe(201);
    expect(reply.json).toBe("");
    const { config, rules, state } = await rows(repo);
    expect(state).toBe(2);
    expect(rules).toEqual([{ rule_type: 1, rule_value: '["latest", "v1.*"]' }]);
    expect(config).toHaveLength(1);
    const row = config[0]!;
    expect(row).toMatchObject({
      is_enabled: true,
      mirror_type: 1,
      external_reference: "quay.io/team/app",
      sync_interval: 3600,
      start_text: "2030-01-02 03:04:05",
      sync_expiration_date: null,
      sync_retries_remaining: 3,
      sync_status: 0,
      skopeo_timeout: "300",
      architecture_filter: "[]",
    });
    expect(JSON.parse(row.external_registry_config as string)).toEqual({ verify_tls: true });
    const fields = new FieldEncrypter(SECRET_KEY);
    expect(row.external_registry_username).toMatch(/^v0\$\$/);
    expect(await fields.decrypt(row.external_registry_username as string)).toBe("puller");
    expect(await fields.decrypt(row.external_registry_password as string)).toBe("s3cret");
    const grant = await api.call("GET", `/api/v1/repository/${org}/${repo}/permissions/user/${org}+syncer`, { auth: owner.basic });
    expect(grant.json.role).toBe("write");
    expect(await audits(repo)).toEqual([
      {
        kind: "repo_mirror_config_changed",
        performer: owner.username,
        metadata: { repo, namespace: org, changed: "external_reference", to: "quay.io/team/app" },
      },
    ]);
  });

  it("answers 409 when the repository already has a mirror", async () => {
    const repo = await newRepository();
    expect((await api.call("POST", mirrorPath(repo), { auth: owner.basic, body: validBody() })).status).toBe(201);
    const again = await api.call("POST", mirrorPath(repo), { auth: owner.basic, body: validBody() });
    expect(again.status).toBe(409);
    expect(again.json.detail).toBe(`Mirror configuration already exits for repository ${org}/${repo}`);
    expect((await rows(repo)).rules).toHaveLength(1);
  });

  it("refuses bad bodies, SSRF targets, bad globs and unknown or foreign robots with 400, writing nothing", async () => {
    const repo = await newRepository();
    const cases: [Record<string, unknown>, string, Record<string, unknown>?][] = [
      [{ external_reference: undefined }, "'external_reference' is a required property"],
      [{ robot_username: undefined }, "'robot_username' is a required property"],
      [{ sync_interval: -1 }, "-1 is less than the minimum of 0"],
      [{ sync_interval: "60" }, "'60' is not of type 'integer'"],
      [{ external_reference: "https://quay.io/team/app" }, "External registry reference must not include a URL scheme"],
      [{ external_reference: "quay.io" }, "External registry reference must include a repository path"],
      [{ external_reference: "quay.io/team/app:latest" }, "External registry reference must not include a tag or digest"],
      [{ external_reference: "127.0.0.1:5000/team/app" }, "The provided registry location is not allowed"],
      [{ external_reference: "localhost/app" }, "The provided registry location is not allowed"],
      [{ external_reference: "169.254.169.254/latest" }, "The provided registry location is not allowed"],
      [{ architecture_filter: ["amd64"] }, "Architecture filtering requires FEATURE_SPARSE_INDEX to be enabled."],
      [{ skopeo_timeout_interval: 299 }, "Skopeo timeout interval cannot be less than 300 seconds"],
      [{ sync_start_date: "2030-01-02T03:04:05.123Z" }, "Incorrect DateTime format for sync_start_date."],
      [{ sync_start_date: "2030-02-30T03:04:05Z" }, "Incorrect DateTime format for sync_start_date."],
      [{ root_rule: { rule_value: ["x"] } }, "'rule_kind' is a required property"],
      [{ root_rule: { rule_kind: "regex", rule_value: ["x"] } }, "'regex' is not one of ['tag_glob_csv']"],
      [{ root_rule: { rule_kind: "tag_glob_csv", rule_value: [] } }, "rule_value must be a non-empty list of tag globs"],
      [{ root_rule: { rule_kind: "tag_glob_csv", rule_value: ["ok", ""] } }, 'Invalid tag glob: ""'],
      [{ root_rule: { rule_kind: "tag_glob_csv", rule_value: [5] } }, "Invalid tag glob: 5"],
      [{ external_registry_config: { verify_tls: "no" } }, "'no' is not of type 'boolean'"],
      [{ external_registry_password: "only" }, "Unable to set a new password without also specifying a username."],
      [{ robot_username: `${org}+nobody` }, "Could not find robot with specified username", { message: "Could not find robot with specified username" }],
      [{ robot_username: `${org}x+other` }, "Invalid robot", { message: "Invalid robot" }],
    ];
    for (const [override, detail, extra] of cases) {
      const reply = await api.call("POST", mirrorPath(repo), { auth: owner.basic, body: validBody(override) });
      expect(reply.status, JSON.stringify(override)).toBe(400);
      expect(reply.json).toEqual(problem(400, "invalid_request", detail, extra));
    }
    expect(await rows(repo)).toEqual({ config: [], rules: [], state: 0 });
    expect(await audits(repo)).toEqual([]);
  });

  it("refuses a body that is not JSON (POST and PUT) with a 400 in Quay's error shape, writing nothing", async () => {
    const repo = await newRepository();
    for (const raw of ["{external_reference", "", "[1, 2]", "null"]) {
      const reply = await api.call("POST", mirrorPath(repo), { auth: owner.basic, raw });
      expect(reply.status, raw).toBe(400);
      expect(reply.json, raw).toMatchObject({ status: 400, error_type: "invalid_request", title: "invalid_request" });
    }
    expect(await rows(repo)).toEqual({ config: [], rules: [], state: 0 });
    expect((await api.call("POST", mirrorPath(repo), { auth: owner.basic, body: validBody() })).status).toBe(201);
    const before = await rows(repo);
    const reply = await api.call("PUT", mirrorPath(repo), { auth: owner.basic, raw: '{"sync_interval": 60' });
    expect(reply.status).toBe(400);
    expect(reply.json).toMatchObject({ status: 400, error_type: "invalid_request" });
    expect(await rows(repo)).toEqual(before);
  });

  it("refuses non-admins (403), anonymous callers (401), and answers 404 for an unknown repository", async () => {
    const repo = await newRepository();
    expect((await api.call("POST", mirrorPath(repo), { auth: member.basic, body: validBody() })).json).toEqual(
      problem(403, "insufficient_scope", "Unauthorized"),
    );
    expect((await api.call("POST", mirrorPath(repo), { body: validBody() })).status).toBe(401);
    expect((await api.call("POST", mirrorPath("nope"), { auth: api.root.basic, body: validBody() })).status).toBe(404);
    expect((await rows(repo)).config).toEqual([]);
  });

  it("answers 404 for every mirror route when PIER_REPO_MIRROR is off", async () => {
    const repo = await newRepository();
    const off = createApp({ ...api.registry, config: { ...api.registry.config, repoMirror: false } });
    for (const [method, suffix] of [["GET", ""], ["POST", ""], ["PUT", ""], ["POST", "/sync-now"], ["POST", "/sync-cancel"]] as const) {
      const response = await off.request(`https://${API_HOST}${mirrorPath(repo, suffix)}`, {
        method,
        headers: { authorization: owner.basic, "content-type": "application/json" },
        body: method === "GET" ? undefined : JSON.stringify(validBody()),
      });
      expect(response.status, `${method} ${suffix}`).toBe(404);
    }
    expect((await rows(repo)).config).toEqual([]);
  });
});

describe("GET and PUT /api/v1/repository/<ns>/<repo>/mirror", () => {
  it("reads Quay's view, without the password", async () => {
    const repo = await newRepository();
    const body = validBody({ external_registry_username: "puller", external_registry_password: "s3cret" });
    expect((await api.call("POST", mirrorPath(repo), { auth: owner.basic, body })).status).toBe(201);
    const reply = await api.call("GET", mirrorPath(repo), { auth: owner.basic });
    expect(reply.status).toBe(200);
    expect(reply.json).toEqual({
      is_enabled: true,
      mirror_type: "PULL",
      external_reference: "quay.io/team/app",
      external_registry_username: "puller",
      external_registry_config: {},
      sync_interval: 3600,
      sync_start_date: "2030-01-02T03:04:05Z",
      sync_expiration_date: null,
      sync_retries_remaining: 3,
      sync_status: "NEVER_RUN",
      root_rule: { rule_kind: "tag_glob_csv", rule_value: ["latest", "v1.*"] },
      robot_username: `${org}+syncer`,
      skopeo_timeout_interval: 300,
      architecture_filter: [],
    });
    expect((await api.call("GET", mirrorPath(await newRepository()), { auth: owner.basic })).status).toBe(404);
    expect((await api.call("GET", mirrorPath(repo), { auth: member.basic })).status).toBe(403);
  });

  it('changes fields partially: 201 "", one audit entry per field with Quay\'s names, credentials rules', async () => {
    const repo = await newRepository();
    expect((await api.call("POST", mirrorPath(repo), { auth: owner.basic, body: validBody() })).status).toBe(201);
    const change = {
      is_enabled: false,
      sync_interval: 60,
      sync_start_date: "2031-05-06T07:08:09Z",
      root_rule: { rule_kind: "tag_glob_csv", rule_value: ["stable"] },
      external_registry_username: "puller",
      external_registry_password: "pw",
      external_registry_config: { verify_tls: false, proxy: { https_proxy: "proxy.local:3128" } },
    };
    const reply = await api.call("PUT", mirrorPath(repo), { auth: owner.basic, body: change });
    expect(reply.status).toBe(201);
    expect(reply.json).toBe("");
    const view = (await api.call("GET", mirrorPath(repo), { auth: owner.basic })).json;
    expect(view).toMatchObject({
      is_enabled: false,
      sync_interval: 60,
      sync_start_date: "2031-05-06T07:08:09Z",
      root_rule: { rule_kind: "tag_glob_csv", rule_value: ["stable"] },
      external_registry_username: "puller",
      external_registry_config: { verify_tls: false, proxy: { https_proxy: "proxy.local:3128" } },
    });
    const changed = (await audits(repo)).slice(1).map((a) => [(a.metadata as any).changed, (a.metadata as any).to]);
    expect(changed).toEqual([
      ["verify_tls", false],
      ["https_proxy", "proxy.local:3128"],
      ["is_enabled", false],
      ["sync_start_date", Date.UTC(2031, 4, 6, 7, 8, 9) / 1000],
      ["sync_interval", 60],
      ["mirror_rule", ["stable"]],
      ["external_registry_username", "puller"],
      ["external_registry_password", "********"],
    ]);
    const refused = await api.call("PUT", mirrorPath(repo), { auth: owner.basic, body: { external_registry_password: "x" } });
    expect(refused.json).toEqual(problem(400, "invalid_request", "Unable to set a new password without also specifying a username."));
    const deleting = await api.call("PUT", mirrorPath(repo), {
      auth: owner.basic,
      body: { external_registry_username: null, external_registry_password: "x" },
    });
    expect(deleting.json.detail).toBe("Unable to delete username while setting a password.");
    const bad = await api.call("PUT", mirrorPath(repo), { auth: owner.basic, body: { is_enabled: true, skopeo_timeout_interval: 10 } });
    expect(bad.status).toBe(400);
    expect((await api.call("GET", mirrorPath(repo), { auth: owner.basic })).json.is_enabled).toBe(false);
  });
});

describe("GET /api/v1/repository/<ns>/<repo>/mirror/metrics (Pier)", () => {
  it("answers the mirror's counters (zero before any run) to admins only; 404 without a mirror", async () => {
    const repo = await newRepository();
    expect((await api.call("GET", mirrorPath(repo, "/metrics"), { auth: owner.basic })).status).toBe(404);
    expect((await api.call("POST", mirrorPath(repo), { auth: owner.basic, body: validBody() })).status).toBe(201);
    const reply = await api.call("GET", mirrorPath(repo, "/metrics"), { auth: owner.basic });
    expect(reply.status).toBe(200);
    expect(reply.json).toEqual({
      sync_status: "NEVER_RUN",
      last_success: null,
      last_failure: null,
      last_error: null,
      runs: 0,
      failures: 0,
      tags_synced: 0,
      tags_failed: 0,
      tags_deleted: 0,
      bytes_copied: 0,
      blobs_copied: 0,
      blobs_linked: 0,
      progress: { tags_total: 0, tags_done: 0 },
    });
    expect((await api.call("GET", mirrorPath(repo, "/metrics"), { auth: member.basic })).status).toBe(403);
  });
});

describe("sync-now and sync-cancel", () => {
  it("sync-now sets SYNC_NOW (204); cancel only from SYNC_NOW or SYNCING (else 404); audited as Quay", async () => {
    const repo = await newRepository();
    expect((await api.call("POST", mirrorPath(repo), { auth: owner.basic, body: validBody() })).status).toBe(201);
    expect((await api.call("POST", mirrorPath(repo, "/sync-cancel"), { auth: owner.basic })).status).toBe(404);
    const now = await api.call("POST", mirrorPath(repo, "/sync-now"), { auth: owner.basic });
    expect(now.status).toBe(204);
    expect((await api.call("GET", mirrorPath(repo), { auth: owner.basic })).json).toMatchObject({
      sync_status: "SYNC_NOW",
      sync_retries_remaining: 3,
    });
    expect((await api.call("POST", mirrorPath(repo, "/sync-cancel"), { auth: owner.basic })).status).toBe(204);
    expect((await api.call("GET", mirrorPath(repo), { auth: owner.basic })).json).toMatchObject({
      sync_status: "CANCEL",
      sync_retries_remaining: 0,
    });
    await api.sql.query(`UPDATE repomirrorconfig SET sync_status = 2 WHERE repository_id = (SELECT id FROM repository WHERE name = $1)`, [repo]);
    expect((await api.call("POST", mirrorPath(repo, "/sync-now"), { auth: owner.basic })).status).toBe(404);
    const tail = (await audits(repo)).slice(1).map((a) => a.metadata);
    expect(tail).toEqual([
      { repo, namespace: org, changed: "sync_status", to: "SYNC_NOW" },
      { repo, namespace: org, changed: "sync_status", to: "SYNC_CANCEL" },
    ]);
  });
});

describe("pushes into a mirrored repository", () => {
  it("grant push to the mirror robot only; other writers get pull, and their uploads 401", async () => {
    const repo = await newRepository();
    await api.call("PUT", `/api/v1/repository/${org}/${repo}/permissions/user/${writer.username}`, {
      auth: owner.basic,
      body: { role: "write" },
    });
    expect(await registryLogin(writer.username, writer.password, repo)).toEqual(["pull", "push"]);
    expect((await api.call("POST", mirrorPath(repo), { auth: owner.basic, body: validBody() })).status).toBe(201);
    expect(await registryLogin(writer.username, writer.password, repo)).toEqual(["pull"]);
    expect(await registryLogin(owner.username, owner.password, repo)).toEqual(["pull"]);
    expect(await registryLogin(`${org}+syncer`, robotToken, repo)).toEqual(["pull", "push"]);

    const query = new URLSearchParams({ service: API_HOST, scope: `repository:${org}/${repo}:pull,push` });
    const token = async (auth: string) =>
      ((await (await api.app.request(`https://${API_HOST}/v2/auth?${query}`, { headers: { authorization: auth } })).json()) as any).token;
    const refused = await api.app.request(`https://${API_HOST}/v2/${org}/${repo}/blobs/uploads/`, {
      method: "POST",
      headers: { authorization: `Bearer ${await token(writer.basic)}` },
    });
    expect(refused.status).toBe(401);
    expect(refused.headers.get("www-authenticate")).toContain(`scope="repository:${org}/${repo}:pull,push"`);
    expect((await refused.json()).errors[0].code).toBe("UNAUTHORIZED");
    // This app takes no bytes itself: the session opens and points at the origin.
    const edge = createApp({ ...api.registry, config: { ...api.registry.config, originUrl: "https://origin.test" } });
    const allowed = await edge.request(`https://${API_HOST}/v2/${org}/${repo}/blobs/uploads/`, {
      method: "POST",
      headers: { authorization: `Bearer ${await token(basicAuth(`${org}+syncer`, robotToken))}` },
    });
    expect(allowed.status).toBe(202);
  });

  it("tag writes of the REST API answer 503 in MIRROR state; changestate brings NORMAL back", async () => {
    const repo = await newRepository();
    expect((await api.call("POST", mirrorPath(repo), { auth: owner.basic, body: validBody() })).status).toBe(201);
    const del = await api.call("DELETE", `/api/v1/repository/${org}/${repo}/tag/latest`, { auth: owner.basic });
    expect(del.status).toBe(503);
    expect(del.json.message).toBe("Repository is in read only or mirror mode: 2");
    const bad = await api.call("PUT", `/api/v1/repository/${org}/${repo}/changestate`, { auth: owner.basic, body: { state: "ORG_MIRROR" } });
    expect(bad.status).toBe(400);
    const normal = await api.call("PUT", `/api/v1/repository/${org}/${repo}/changestate`, { auth: owner.basic, body: { state: "NORMAL" } });
    expect(normal.status).toBe(200);
    expect(normal.json).toEqual({ success: true });
    expect((await rows(repo)).state).toBe(0);
    expect((await rows(repo)).config).toHaveLength(1);
    expect((await audits(repo)).at(-1)).toMatchObject({ kind: "change_repo_state", metadata: { repo, namespace: org, state_changed: "NORMAL" } });
    expect(await registryLogin(owner.username, owner.password, repo)).toEqual(["pull", "push"]);
  });
});
