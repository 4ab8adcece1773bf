/**
 * Quota REST (/api/v1/organization/<org>/quota…, /api/v1/user/quota…): Quay's
 * authorization (members and superusers read, superusers write), bodies (`limit_bytes`
 * or a bitmath `limit`), views, messages, statuses and audit entries; limits changed
 * here decide the push path's verdict at once; 404 with quota management off.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { quotaVerdict } from "../../src/core/push/quota.js";
import { createApp } from "../../src/http/app.js";
import { unique } from "../support/quay-seed.js";
import { API_HOST, organizationWithMembers, startApiHarness, type ApiHarness, type TestUser } from "../support/api-harness.js";

let api: ApiHarness;
let owner: TestUser;
let member: TestUser;
let outsider: TestUser;
const org = unique("quotaorg");
const base = `/api/v1/organization/${org}/quota`;
const GiB = 1024 ** 3;

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
  const { rows } = await api.sql.query<{ kind: string; performer: string; metadata_json: string }>(
    `SELECT k.name AS kind, p.username AS performer, l.metadata_json FROM logentry3 l
     JOIN logentrykind k ON k.id = l.kind_id JOIN "user" a ON a.id = l.account_id JOIN "user" p ON p.id = l.performer_id
     WHERE a.username = $1 AND k.name LIKE 'org_%quota%' ORDER BY l.id`,
    [namespace],
  );
  return rows;
}

async function namespaceId(name: string): Promise<number> {
  const { rows } = await api.sql.query<{ id: number }>(`SELECT id FROM "user" WHERE username = $1`, [name]);
  return rows[0]!.id;
}

/** Another app on the same database with different quota settings. */
function appWith(quota: { enabled: boolean; systemRejectBytes: number }) {
  const app = createApp({ ...api.registry, config: { ...api.registry.config, quota } });
  return async (path: string, auth: string) => {
    const response = await app.request(`https://${API_HOST}${path}`, { headers: { authorization: auth } });
    return { status: response.status, json: await response.json() };
  };
}

beforeAll(async () => {
  api = await startApiHarness("apiquota", { PIER_QUOTA_MANAGEMENT: "true" });
  ({ owner, member, outsider } = await organizationWithMembers(api, org));
});
afterAll(() => api?.close());

describe("organization quota", () => {
  let quotaId: number;

  it('is created by a superuser only (201 "Created", one per organization) and audited', async () => {
    expect((await api.call("POST", base, { body: { limit_bytes: GiB } })).status).toBe(401);
    expect((await api.call("POST", base, { auth: owner.basic, body: { limit_bytes: GiB } })).status).toBe(403);
    const created = await api.call("POST", base, { auth: api.root.basic, body: { limit: "10 GiB" } });
    expect(created).toMatchObject({ status: 201, json: "Created" });
    const again = await api.call("POST", base, { auth: api.root.basic, body: { limit_bytes: GiB } });
    expect(again).toMatchObject({ status: 400, json: invalid(`Organization quota for '${org}' already exists`) });
    const { rows } = await api.sql.query<{ id: number; limit_bytes: string }>(
      `SELECT id, limit_bytes::text AS limit_bytes FROM userorganizationquota WHERE namespace_id = $1`,
      [await namespaceId(org)],
    );
    expect(rows).toEqual([{ id: expect.any(Number), limit_bytes: String(10 * GiB) }]);
    quotaId = rows[0]!.id;
    expect(await auditEntries(org)).toEqual([
      {
        kind: "org_create_quota",
        performer: api.root.username,
        metadata_json: `{"namespace": "${org}", "limit_bytes": ${10 * GiB}, "limit": "10.0 GiB"}`,
      },
    ]);
  });

  it("is read by members and superusers with Quay's view, not by outsiders", async () => {
    const view = { id: quotaId, limit_bytes: 10 * GiB, limit: "10.0 GiB", default_config: false, limits: [], default_config_exists: false };
    expect(await api.call("GET", base, { auth: member.basic })).toMatchObject({ status: 200, json: [view] });
    expect(await api.call("GET", `${base}/${quotaId}`, { auth: api.root.basic })).toMatchObject({ status: 200, json: view });
    expect((await api.call("GET", base, { auth: outsider.basic })).status).toBe(403);
    expect((await api.call("GET", `${base}/${quotaId}`)).status).toBe(401);
    expect((await api.call("GET", `${base}/${quotaId + 1000}`, { auth: member.basic })).status).toBe(404);
    expect((await api.call("GET", `${base}/abc`, { auth: member.basic })).status).toBe(404);
    expect((await api.call("GET", `/api/v1/organization/${unique("nosuch")}/quota`, { auth: api.root.basic })).status).toBe(404);
  });

  it("refuses bad bodies with Quay's messages", async () => {
    const other = unique("quotaother");
    expect((await api.call("POST", "/api/v1/organization/", { auth: owner.basic, body: { name: other } })).status).toBe(201);
    const post = (body: unknown) => api.call("POST", `/api/v1/organization/${other}/quota`, { auth: api.root.basic, body });
    expect((await post({})).json).toEqual(invalid("{} is not valid under any of the given schemas"));
    expect((await post({ limit: "10 GB!" })).json).toEqual(invalid("{'limit': '10 GB!'} is not valid under any of the given schemas"));
    expect((await post({ limit_bytes: "5" })).json).toEqual(invalid("{'limit_bytes': '5'} is not valid under any of the given schemas"));
    const both = await post({ limit_bytes: 5, limit: "5 MiB" });
    expect(both.status).toBe(400);
    expect(both.json.detail).toMatch(/^\{'limit_bytes': 5, 'limit': '5 MiB'\} is valid under each of \{'required': \['limit_bytes'\]/);
    expect((await post({ limit_bytes: 0 })).json).toEqual(invalid("Invalid quota size limit value: '0'"));
    expect((await post({ limit_bytes: -5 })).json).toEqual(invalid("Invalid quota size limit value: '-5'"));
    expect((await post({ limit: "0" })).json).toEqual(invalid("Invalid quota size limit value: '0.0'"));
    expect((await post({ limit: "9 YiB" })).json).toEqual(invalid("Unsupported quota size limit."));
    expect((await api.call("GET", `/api/v1/organization/${other}/quota`, { auth: api.root.basic })).json).toEqual([]);
    // A user's namespace is not an organization.
    expect(
      (await api.call("POST", `/api/v1/organization/${owner.username}/quota`, { auth: api.root.basic, body: { limit_bytes: 5 } })).status,
    ).toBe(404);
  });

  it("changes its size for superusers (the view after, audited with the previous size); {} changes nothing", async () => {
    expect((await api.call("PUT", `${base}/${quotaId}`, { auth: owner.basic, body: { limit_bytes: GiB } })).status).toBe(403);
    const bad = await api.call("PUT", `${base}/${quotaId}`, { auth: api.root.basic, body: { limit_bytes: GiB, extra: 1 } });
    expect(bad.json).toEqual(invalid(`{'limit_bytes': ${GiB}, 'extra': 1} is not valid under any of the given schemas`));
    const changed = await api.call("PUT", `${base}/${quotaId}`, { auth: api.root.basic, body: { limit: "5Gi" } });
    expect(changed).toMatchObject({ status: 200, json: { id: quotaId, limit_bytes: 5 * GiB, limit: "5.0 GiB" } });
    const same = await api.call("PUT", `${base}/${quotaId}`, { auth: api.root.basic, body: {} });
    expect(same).toMatchObject({ status: 200, json: { limit_bytes: 5 * GiB } });
    expect((await auditEntries(org)).at(-1)).toEqual({
      kind: "org_change_quota",
      performer: api.root.username,
      metadata_json: `{"namespace": "${org}", "limit_bytes": ${5 * GiB}, "limit": "5.0 GiB", "previous_limit_bytes": ${10 * GiB}, "previous_limit": "10.0 GiB"}`,
    });
  });
});

describe("quota limits", () => {
  let quotaId: number;
  let nsId: number;
  const limits = () => `${base}/${quotaId}/limit`;

  beforeAll(async () => {
    quotaId = (await api.call("GET", base, { auth: member.basic })).json[0].id;
    nsId = await namespaceId(org);
  });

  it("are created, read, changed and deleted with Quay's shapes, and decide the push path's verdict at once", async () => {
    const settings = { enabled: true, systemRejectBytes: 0 };
    expect((await api.call("PUT", `${base}/${quotaId}`, { auth: api.root.basic, body: { limit_bytes: 1000 } })).status).toBe(200);
    expect(await quotaVerdict(api.sql, settings, nsId, 1000)).toBeNull();

    expect((await api.call("POST", limits(), { auth: owner.basic, body: { type: "Reject", threshold_percent: 100 } })).status).toBe(403);
    expect(await api.call("POST", limits(), { auth: api.root.basic, body: { type: "reject", threshold_percent: 100 } })).toMatchObject({
      status: 201,
      json: "Created",
    });
    expect((await quotaVerdict(api.sql, settings, nsId, 1000))?.severity).toBe("Reject");
    const dup = await api.call("POST", limits(), { auth: api.root.basic, body: { type: "REJECT", threshold_percent: 100 } });
    expect(dup.json).toEqual(invalid("Quota limit already exists"));
    expect((await api.call("POST", limits(), { auth: api.root.basic, body: { type: "Warning", threshold_percent: 150 } })).json).toEqual(
      invalid("Quota limit threshold must be between 1 and 100"),
    );
    expect((await api.call("POST", limits(), { auth: api.root.basic, body: { type: "Warning", threshold_percent: 0 } })).json).toEqual(
      invalid("Quota limit threshold must be between 1 and 100"),
    );
    expect((await api.call("POST", limits(), { auth: api.root.basic, body: { type: "Soft", threshold_percent: 50 } })).json).toEqual(
      invalid("Quota type must be one of [Warning, Reject]"),
    );
    expect((await api.call("POST", limits(), { auth: api.root.basic, body: { type: "Warning" } })).json).toEqual(
      invalid("'threshold_percent' is a required property"),
    );
    expect((await api.call("POST", limits(), { auth: api.root.basic, body: { type: "Warning", threshold_percent: 50 } })).status).toBe(201);

    const listed = await api.call("GET", limits(), { auth: member.basic });
    expect(listed.json).toEqual([
      { id: expect.any(Number), type: "Reject", limit_percent: 100 },
      { id: expect.any(Number), type: "Warning", limit_percent: 50 },
    ]);
    const [reject, warning] = listed.json as { id: number }[];
    expect((await api.call("GET", limits(), { auth: outsider.basic })).status).toBe(403);
    expect(await api.call("GET", `${limits()}/${warning!.id}`, { auth: member.basic })).toMatchObject({
      status: 200,
      json: { id: warning!.id, type: "Warning", limit_percent: 50 },
    });
    expect((await quotaVerdict(api.sql, settings, nsId, 600))?.severity).toBe("Warning");

    // PUT answers the quota's view; both fields are checked before either is written.
    const refused = await api.call("PUT", `${limits()}/${reject!.id}`, {
      auth: api.root.basic,
      body: { type: "Warning", threshold_percent: 101 },
    });
    expect(refused.json).toEqual(invalid("Quota limit threshold must be between 1 and 100"));
    const changed = await api.call("PUT", `${limits()}/${reject!.id}`, { auth: api.root.basic, body: { threshold_percent: 80 } });
    expect(changed).toMatchObject({
      status: 200,
      json: {
        id: quotaId,
        limit_bytes: 1000,
        limit: "1000.0 Byte",
        limits: [
          { id: reject!.id, type: "Reject", limit_percent: 80 },
          { id: warning!.id, type: "Warning", limit_percent: 50 },
        ],
      },
    });
    expect((await quotaVerdict(api.sql, settings, nsId, 800))?.severity).toBe("Reject");
    expect((await api.call("PUT", `${limits()}/${reject!.id}`, { auth: owner.basic, body: { threshold_percent: 90 } })).status).toBe(403);

    expect((await api.call("DELETE", `${limits()}/${reject!.id}`, { auth: owner.basic })).status).toBe(403);
    expect((await api.call("DELETE", `${limits()}/${reject!.id}`, { auth: api.root.basic })).status).toBe(204);
    expect((await api.call("GET", `${limits()}/${reject!.id}`, { auth: member.basic })).status).toBe(404);
    expect((await quotaVerdict(api.sql, settings, nsId, 800))?.severity).toBe("Warning");

    const kinds = (await auditEntries(org)).slice(-4);
    expect(kinds.map((entry) => [entry.kind, entry.metadata_json])).toEqual([
      ["org_create_quota_limit", `{"namespace": "${org}", "type": "reject", "threshold_percent": 100}`],
      ["org_create_quota_limit", `{"namespace": "${org}", "type": "Warning", "threshold_percent": 50}`],
      [
        "org_change_quota_limit",
        `{"namespace": "${org}", "type": "Reject", "threshold_percent": 80, "previous_type": "Reject", "previous_threshold_percent": 100}`,
      ],
      ["org_delete_quota_limit", `{"namespace": "${org}", "limit_id": ${reject!.id}, "type": "Reject", "threshold_percent": 80}`],
    ]);
  });

  it("answer 4xx, never a 500, for hostile ids and bodies, and write nothing", async () => {
    const root = api.root.basic;
    const before = (await api.sql.query(`SELECT count(*)::int AS n FROM quotalimits WHERE quota_id = $1`, [quotaId])).rows[0];
    for (const path of [`${base}/99999999999999999999`, `${limits()}/-1`, `${limits()}/1e3`]) {
      expect((await api.call("GET", path, { auth: root })).status).toBe(404);
    }
    // A NUL in a path parameter is refused before any lookup (Quay's invalid_request).
    for (const path of [`${base}/%00`, `${limits()}/%00`]) {
      expect((await api.call("GET", path, { auth: root })).json?.error_type).toBe("invalid_request");
    }
    expect((await api.call("POST", limits(), { auth: root, body: { type: "Notice", threshold_percent: 50 } })).json).toEqual(
      invalid("Quota type must be one of [Warning, Reject]"),
    );
    expect((await api.call("POST", limits(), { auth: root, body: { type: "Warn\u0000ing", threshold_percent: 50 } })).json).toEqual(
      invalid("The request body holds a NUL character"),
    );
    expect((await api.call("POST", limits(), { auth: root, body: { type: "Warning", threshold_percent: 1e12 } })).json).toEqual(
      invalid("Quota limit threshold must be between 1 and 100"),
    );
    expect((await api.call("POST", limits(), { auth: root, body: { type: "Warning", threshold_percent: 5.5 } })).status).toBe(400);
    expect((await api.call("POST", limits(), { auth: root, body: [1] })).status).toBe(400);
    const huge = await api.call("PUT", `${base}/${quotaId}`, { auth: root, body: { limit_bytes: 1e30 } });
    expect(huge.json).toEqual(invalid("Unsupported quota size limit."));
    expect((await api.sql.query(`SELECT count(*)::int AS n FROM quotalimits WHERE quota_id = $1`, [quotaId])).rows[0]).toEqual(before);
  });

  it("go with their quota when it is deleted (204), after which pushes are unlimited", async () => {
    expect((await api.call("DELETE", `${base}/${quotaId}`, { auth: owner.basic })).status).toBe(403);
    expect((await api.call("DELETE", `${base}/${quotaId}`, { auth: api.root.basic })).status).toBe(204);
    expect((await api.call("GET", `${base}/${quotaId}`, { auth: member.basic })).status).toBe(404);
    expect((await api.sql.query(`SELECT 1 FROM quotalimits WHERE quota_id = $1`, [quotaId])).rows).toEqual([]);
    expect(await quotaVerdict(api.sql, { enabled: true, systemRejectBytes: 0 }, nsId, 10 ** 12)).toBeNull();
    expect((await auditEntries(org)).at(-1)).toEqual({
      kind: "org_delete_quota",
      performer: api.root.username,
      metadata_json: `{"namespace": "${org}", "quota_id": ${quotaId}, "limit_bytes": 1000, "limit": "1000.0 Byte"}`,
    });
  });
});

describe("the user's own quota, the registry default and the flag", () => {
  it("GET /user/quota… shows the caller's own quota (the limit route answers the quota's view, as Quay)", async () => {
    const user = await api.user("quser");
    const { rows } = await api.sql.query<{ id: number }>(
      `INSERT INTO userorganizationquota (namespace_id, limit_bytes) VALUES ($1, 2048) RETURNING id`,
      [user.id],
    );
    const id = rows[0]!.id;
    await api.sql.query(
      `INSERT INTO quotalimits (quota_id, quota_type_id, percent_of_limit) SELECT $1, id, 90 FROM quotatype WHERE name = 'Warning'`,
      [id],
    );
    const limit = (await api.sql.query<{ id: number }>(`SELECT id FROM quotalimits WHERE quota_id = $1`, [id])).rows[0]!.id;
    const view = {
      id,
      limit_bytes: 2048,
      limit: "2.0 KiB",
      default_config: false,
      limits: [{ id: limit, type: "Warning", limit_percent: 90 }],
      default_config_exists: false,
    };
    expect(await api.call("GET", "/api/v1/user/quota", { auth: user.basic })).toMatchObject({ status: 200, json: [view] });
    expect((await api.call("GET", `/api/v1/user/quota/${id}`, { auth: user.basic })).json).toEqual(view);
    expect((await api.call("GET", `/api/v1/user/quota/${id}/limit`, { auth: user.basic })).json).toEqual(view.limits);
    expect((await api.call("GET", `/api/v1/user/quota/${id}/limit/${limit}`, { auth: user.basic })).json).toEqual(view);
    expect((await api.call("GET", "/api/v1/user/quota", { auth: outsider.basic })).json).toEqual([]);
    expect((await api.call("GET", `/api/v1/user/quota/${id}`, { auth: outsider.basic })).status).toBe(404);
    expect((await api.call("GET", "/api/v1/user/quota")).status).toBe(401);
  });

  it("lists the registry-wide default for an organization without a quota", async () => {
    const get = appWith({ enabled: true, systemRejectBytes: 3 * GiB });
    expect(await get(base, member.basic)).toEqual({
      status: 200,
      json: [{ id: null, limit_bytes: 3 * GiB, limit: "3.0 GiB", default_config: true, limits: [], default_config_exists: true }],
    });
  });

  it("answers 404 with quota management off", async () => {
    const get = appWith({ enabled: false, systemRejectBytes: 0 });
    expect((await get(base, api.root.basic)).status).toBe(404);
    expect((await get("/api/v1/user/quota", owner.basic)).status).toBe(404);
  });
});
