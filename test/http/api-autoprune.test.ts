/**
 * Auto-prune policies through /api/v1/{organization/<org>,repository/<ns>/<repo>,user}/autoprunepolicy/:
 * Quay's status codes, bodies, validation messages, duplicate check, task row and
 * audit entries; Pier's refusal of a pattern PostgreSQL cannot compile; 404 with the flag off.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { unique } from "../support/quay-seed.js";
import { API_HOST, startApiHarness, type ApiHarness, type TestUser } from "../support/api-harness.js";

let api: ApiHarness;
let owner: TestUser;
let member: TestUser;
let outsider: TestUser;
const org = unique("prune");
const orgPath = `/api/v1/organization/${org}/autoprunepolicy`;
const repoPath = `/api/v1/repository/${org}/app/autoprunepolicy`;

const BY_COUNT = { method: "number_of_tags", value: 5 };

function invalid(detail: string) {
  return {
    detail,
    error_message: detail,
    error_type: "invalid_request",
    title: "invalid_request",
    type: `https://${API_HOST}/api/v1/error/invalid_request`,
    status: 400,
  };
}

async function auditEntries(namespace: string) {
  const { rows } = await api.sql.query<{ kind: string; performer: string | null; repo: string | null; metadata_json: string }>(
    `SELECT k.name AS kind, p.username AS performer, r.name AS repo, l.metadata_json FROM logentry3 l
     JOIN logentrykind k ON k.id = l.kind_id JOIN "user" a ON a.id = l.account_id
     LEFT JOIN "user" p ON p.id = l.performer_id LEFT JOIN repository r ON r.id = l.repository_id
     WHERE a.username = $1 AND k.name LIKE '%autoprune_policy' ORDER BY l.id`,
    [namespace],
  );
  return rows;
}

async function storedPolicy(uuid: string, table = "namespaceautoprunepolicy"): Promise<string | undefined> {
  const { rows } = await api.sql.query<{ policy: string }>(`SELECT policy FROM ${table} WHERE uuid = $1`, [uuid]);
  return rows[0]?.policy;
}

async function task(namespace: string) {
  const { rows } = await api.sql.query<{ status: string | null; last_ran_ms: string | null }>(
    `SELECT t.status, t.last_ran_ms FROM autoprunetaskstatus t JOIN "user" u ON u.id = t.namespace_id WHERE u.username = $1`,
    [namespace],
  );
  return rows;
}

beforeAll(async () => {
  api = await startApiHarness("apiautoprune", { PIER_AUTO_PRUNE: "true" });
  owner = await api.user("owner");
  member = await api.user("member");
  outsider = await api.user("outsider");
  expect((await api.call("POST", "/api/v1/organization/", { auth: owner.basic, body: { name: org } })).status).toBe(201);
  const team = `/api/v1/organization/${org}/team/readers`;
  expect((await api.call("PUT", team, { auth: owner.basic, body: { role: "member" } })).status).toBe(200);
  expect((await api.call("PUT", `${team}/members/${member.username}`, { auth: owner.basic })).status).toBe(200);
  const repo = { repository: "app", namespace: org, visibility: "public", description: "" };
  expect((await api.call("POST", "/api/v1/repository", { auth: owner.basic, body: repo })).status).toBe(201);
});
afterAll(() => api?.close());

describe("organization policies", () => {
  it("creates (201 uuid, queued task, audit), lists, reads, updates (204) and deletes (200 uuid)", async () => {
    const created = await api.call("POST", `${orgPath}/`, { auth: owner.basic, body: { ...BY_COUNT, tagPattern: "  ^v1\\.  " } });
    expect(created.status).toBe(201);
    const uuid = created.json.uuid as string;
    expect(Object.keys(created.json)).toEqual(["uuid"]);
    expect(await storedPolicy(uuid)).toBe(
      '{"method": "number_of_tags", "value": 5, "tag_pattern": "^v1\\\\.", "tag_pattern_matches": true}',
    );
    expect(await task(org)).toEqual([{ status: "queued", last_ran_ms: null }]);

    const view = { uuid, method: "number_of_tags", value: 5, tagPattern: "^v1\\.", tagPatternMatches: true };
    const listed = await api.call("GET", orgPath, { auth: owner.basic });
    expect(listed).toMatchObject({ status: 200, json: { policies: [view] } });
    expect(await api.call("GET", `${orgPath}/${uuid}`, { auth: owner.basic })).toMatchObject({ status: 200, json: view });

    const changed = { method: "creation_date", value: "2w", tagPatternMatches: false };
    const updated = await api.call("PUT", `${orgPath}/${uuid}`, { auth: owner.basic, body: changed });
    expect(updated.status).toBe(204);
    expect(updated.json).toBeNull();
    expect((await api.call("GET", `${orgPath}/${uuid}`, { auth: owner.basic })).json).toEqual({
      uuid,
      method: "creation_date",
      value: "2w",
      tagPattern: null,
      tagPatternMatches: false,
    });

    const deleted = await api.call("DELETE", `${orgPath}/${uuid}`, { auth: owner.basic });
    expect(deleted).toMatchObject({ status: 200, json: { uuid } });
    expect(await storedPolicy(uuid)).toBeUndefined();
    expect((await api.call("GET", `${orgPath}/${uuid}`, { auth: owner.basic })).status).toBe(404);
    // The task stays: the worker drops it when it finds no policy.
    expect(await task(org)).toHaveLength(1);

    expect(await auditEntries(org)).toEqual([
      {
        kind: "create_namespace_autoprune_policy",
        performer: owner.username,
        repo: null,
        metadata_json: `{"method": "number_of_tags", "value": 5, "tag_pattern": "^v1\\\\.", "tag_pattern_matches": true, "namespace": "${org}"}`,
      },
      {
        kind: "update_namespace_autoprune_policy",
        performer: owner.username,
        repo: null,
        metadata_json: `{"method": "creation_date", "value": "2w", "tag_pattern": null, "tag_pattern_matches": false, "namespace": "${org}"}`,
      },
      {
        kind: "delete_namespace_autoprune_policy",
        performer: owner.username,
        repo: null,
        metadata_json: `{"policy_uuid": "${uuid}", "namespace": "${org}"}`,
      },
    ]);
  });

  it("refuses a duplicate (missing tagPatternMatches counts as true) but allows differing policies", async () => {
    const first = await api.call("POST", orgPath, { auth: owner.basic, body: { method: "number_of_tags", value: 7 } });
    expect(first.status).toBe(201);
    const again = await api.call("POST", orgPath, {
      auth: owner.basic,
      body: { method: "number_of_tags", value: 7, tagPatternMatches: true },
    });
    expect(again.status).toBe(400);
    expect(again.json).toEqual(invalid("Existing policy with same values for this namespace, duplicate policies are not permitted"));
    const other = await api.call("POST", orgPath, {
      auth: owner.basic,
      body: { method: "number_of_tags", value: 7, tagPatternMatches: false },
    });
    expect(other.status).toBe(201);
    for (const uuid of [first.json.uuid, other.json.uuid]) {
      expect((await api.call("DELETE", `${orgPath}/${uuid}`, { auth: owner.basic })).status).toBe(200);
    }
  });

  it.each([
    [{ method: "newest", value: 1 }, "Invalid method provided"],
    [{ method: "number_of_tags", value: 0 }, "Invalid value given for method type"],
    [{ method: "number_of_tags", value: -2 }, "Invalid value given for method type"],
    [{ method: "number_of_tags", value: "5" }, "Invalid value given for method type"],
    [{ method: "creation_date", value: 5 }, "Invalid value given for method type"],
    [{ method: "creation_date", value: "5 days" }, "Invalid value given for method type"],
    [{ method: "creation_date", value: "5x" }, "Invalid value given for method type"],
    [{ method: "creation_date", value: "" }, "Invalid value given for method type"],
    [{ ...BY_COUNT, tagPattern: "   " }, "tag_pattern cannot be empty"],
    [{ ...BY_COUNT, tagPattern: 3 }, "3 is not of type 'string'"],
    [{ ...BY_COUNT, tagPatternMatches: "yes" }, "'yes' is not of type 'boolean'"],
    [{ method: "number_of_tags" }, "'value' is a required property"],
    [{ value: 3 }, "'method' is a required property"],
    [{ ...BY_COUNT, tagPattern: "v(1" }, "tag_pattern is not a valid regular expression: v(1"],
  ])("answers 400 for %j: %s", async (body, message) => {
    const reply = await api.call("POST", orgPath, { auth: owner.basic, body });
    expect(reply.status).toBe(400);
    expect(reply.json).toEqual(invalid(message));
    const update = await api.call("PUT", `${orgPath}/${crypto.randomUUID()}`, { auth: owner.basic, body });
    expect(update.status).toBe(400);
  });

  it("answers 400 for a body that is not JSON", async () => {
    const reply = await api.call("POST", orgPath, { auth: owner.basic, raw: "{method" });
    expect(reply.status).toBe(400);
  });

  it("accepts every duration unit and refuses none of Quay's", async () => {
    for (const value of ["30s", "15m", "12h", "3d", "2w", "1y", "0d"]) {
      const reply = await api.call("POST", orgPath, { auth: owner.basic, body: { method: "creation_date", value } });
      expect(reply.status).toBe(201);
      expect((await api.call("DELETE", `${orgPath}/${reply.json.uuid}`, { auth: owner.basic })).status).toBe(200);
    }
  });

  it("answers 404 for a missing policy on get, update and delete", async () => {
    const missing = `${orgPath}/${crypto.randomUUID()}`;
    expect((await api.call("GET", missing, { auth: owner.basic })).status).toBe(404);
    expect((await api.call("PUT", missing, { auth: owner.basic, body: BY_COUNT })).status).toBe(404);
    expect((await api.call("DELETE", missing, { auth: owner.basic })).status).toBe(404);
  });

  it("lets only organization admins write, and superusers read", async () => {
    expect((await api.call("GET", orgPath)).status).toBe(401);
    expect((await api.call("GET", orgPath, { auth: member.basic })).status).toBe(403);
    expect((await api.call("POST", orgPath, { auth: member.basic, body: BY_COUNT })).status).toBe(403);
    expect((await api.call("POST", orgPath, { auth: outsider.basic, body: BY_COUNT })).status).toBe(403);
    expect((await api.call("GET", orgPath, { auth: api.root.basic })).status).toBe(200);
    expect((await api.call("POST", orgPath, { auth: api.root.basic, body: BY_COUNT })).status).toBe(403);
  });

  it("needs org:admin on an OAuth token", async () => {
    const weak = await api.oauthToken(owner, "repo:admin");
    expect((await api.call("GET", orgPath, { auth: `Bearer ${weak}` })).status).toBe(403);
    const strong = await api.oauthToken(owner, "org:admin");
    expect((await api.call("GET", orgPath, { auth: `Bearer ${strong}` })).status).toBe(200);
  });

  it("answers 404 for an unknown organization to a superuser, 403 to others", async () => {
    const path = `/api/v1/organization/${unique("none")}/autoprunepolicy/`;
    expect((await api.call("GET", path, { auth: api.root.basic })).status).toBe(404);
    expect((await api.call("GET", path, { auth: owner.basic })).status).toBe(403);
    // A user's namespace is not an organization.
    expect((await api.call("GET", `/api/v1/organization/${owner.username}/autoprunepolicy/`, { auth: api.root.basic })).status).toBe(404);
  });
});

describe("repository policies", () => {
  it("creates, lists, reads, updates and deletes with repository audit entries", async () => {
    const created = await api.call("POST", `${repoPath}/`, { auth: owner.basic, body: { method: "creation_date", value: "3d" } });
    expect(created.status).toBe(201);
    const uuid = created.json.uuid as string;
    expect(await storedPolicy(uuid, "repositoryautoprunepolicy")).toBe(
      '{"method": "creation_date", "value": "3d", "tag_pattern": null, "tag_pattern_matches": true}',
    );
    const view = { uuid, method: "creation_date", value: "3d", tagPattern: null, tagPatternMatches: true };
    expect((await api.call("GET", repoPath, { auth: owner.basic })).json).toEqual({ policies: [view] });
    expect((await api.call("GET", `${repoPath}/${uuid}`, { auth: owner.basic })).json).toEqual(view);
    // Repository policies are not listed as the organization's.
    expect((await api.call("GET", orgPath, { auth: owner.basic })).json).toEqual({ policies: [] });

    const duplicate = await api.call("POST", repoPath, { auth: owner.basic, body: { method: "creation_date", value: "3d" } });
    expect(duplicate.json).toEqual(invalid("Existing policy with same values for this repository, duplicate policies are not permitted"));
    expect((await api.call("PUT", `${repoPath}/${uuid}`, { auth: owner.basic, body: { ...BY_COUNT, tagPattern: "rc" } })).status).toBe(204);
    expect((await api.call("DELETE", `${repoPath}/${uuid}`, { auth: owner.basic })).json).toEqual({ uuid });

    const entries = (await auditEntries(org)).filter((e) => e.kind.includes("repository"));
    expect(entries).toEqual([
      {
        kind: "create_repository_autoprune_policy",
        performer: owner.username,
        repo: "app",
        metadata_json: `{"method": "creation_date", "value": "3d", "tag_pattern": null, "tag_pattern_matches": true, "namespace": "${org}", "repo": "app"}`,
      },
      {
        kind: "update_repository_autoprune_policy",
        performer: owner.username,
        repo: "app",
        metadata_json: `{"method": "number_of_tags", "value": 5, "tag_pattern": "rc", "tag_pattern_matches": true, "namespace": "${org}", "repo": "app"}`,
      },
      {
        kind: "delete_repository_autoprune_policy",
        performer: owner.username,
        repo: "app",
        metadata_json: `{"policy_uuid": "${uuid}", "namespace": "${org}", "repo": "app"}`,
      },
    ]);
  });

  it("answers 404 for an unknown repository and 403 to non-admins of a public one", async () => {
    expect((await api.call("GET", `/api/v1/repository/${org}/nothere/autoprunepolicy/`, { auth: owner.basic })).status).toBe(404);
    expect(
      (await api.call("POST", `/api/v1/repository/${org}/nothere/autoprunepolicy/`, { auth: owner.basic, body: BY_COUNT })).status,
    ).toBe(404);
    expect((await api.call("GET", repoPath, { auth: member.basic })).status).toBe(403);
    expect((await api.call("POST", repoPath, { auth: outsider.basic, body: BY_COUNT })).status).toBe(403);
    expect((await api.call("GET", repoPath)).status).toBe(401);
    expect((await api.call("GET", `${repoPath}/${crypto.randomUUID()}`, { auth: owner.basic })).status).toBe(404);
  });
});

describe("user policies", () => {
  it("manage the caller's own namespace", async () => {
    const path = "/api/v1/user/autoprunepolicy";
    const created = await api.call("POST", path, {
      auth: outsider.basic,
      body: { ...BY_COUNT, tagPattern: "^tmp-", tagPatternMatches: true },
    });
    expect(created.status).toBe(201);
    const uuid = created.json.uuid as string;
    expect(await task(outsider.username)).toEqual([{ status: "queued", last_ran_ms: null }]);
    expect((await api.call("GET", `${path}/`, { auth: outsider.basic })).json.policies).toHaveLength(1);
    // Another user sees their own (empty) namespace, not this one.
    expect((await api.call("GET", `${path}/`, { auth: member.basic })).json).toEqual({ policies: [] });
    expect((await api.call("GET", `${path}/${uuid}`, { auth: member.basic })).status).toBe(404);
    expect((await api.call("GET", path)).status).toBe(401);
    expect((await api.call("PUT", `${path}/${uuid}`, { auth: outsider.basic, body: { method: "number_of_tags", value: 2 } })).status).toBe(
      204,
    );
    expect((await api.call("DELETE", `${path}/${uuid}`, { auth: outsider.basic })).json).toEqual({ uuid });
    expect((await auditEntries(outsider.username)).map((e) => [e.kind, e.metadata_json])).toEqual([
      [
        "create_namespace_autoprune_policy",
        `{"method": "number_of_tags", "value": 5, "tag_pattern": "^tmp-", "tag_pattern_matches": true, "namespace": "${outsider.username}"}`,
      ],
      [
        "update_namespace_autoprune_policy",
        `{"method": "number_of_tags", "value": 2, "tag_pattern": null, "tag_pattern_matches": true, "namespace": "${outsider.username}"}`,
      ],
      ["delete_namespace_autoprune_policy", `{"policy_uuid": "${uuid}", "namespace": "${outsider.username}"}`],
    ]);
  });
});

describe("with PIER_AUTO_PRUNE off", () => {
  it("answers 404 on every endpoint", async () => {
    const off = await startApiHarness("apiautopruneoff");
    try {
      const user = await off.user("owner");
      expect((await off.call("GET", "/api/v1/user/autoprunepolicy/", { auth: user.basic })).status).toBe(404);
      expect((await off.call("POST", "/api/v1/user/autoprunepolicy/", { auth: user.basic, body: BY_COUNT })).status).toBe(404);
      expect((await off.call("GET", `/api/v1/organization/${org}/autoprunepolicy/`, { auth: off.root.basic })).status).toBe(404);
      expect((await off.call("DELETE", `/api/v1/repository/${user.username}/x/autoprunepolicy/abc`, { auth: user.basic })).status).toBe(
        404,
      );
    } finally {
      await off.close();
    }
  });
});
