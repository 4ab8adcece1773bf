/**
 * A Quay database from before `organizationcontactemail` (February 2026) and the
 * organization-mirror tables existed: pushes, organizations and robots work on it, and
 * an organization's e-mail lives in `user.email` as Quay at head keeps it.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MediaType } from "../../src/core/model/media-types.js";
import { startApiHarness, type ApiHarness } from "../support/api-harness.js";
import { startPushScene, type PushScene } from "../support/origin-registry.js";
import { unique } from "../support/quay-seed.js";

const sha256 = (text: string) => `sha256:${createHash("sha256").update(text).digest("hex")}`;

let scene: PushScene;
let api: ApiHarness;

beforeAll(async () => {
  [scene, api] = await Promise.all([startPushScene("notable"), startApiHarness("notableapi")]);
  await scene.origin.registry.sql.query(`DROP TABLE organizationcontactemail`);
  await api.sql.query(`DROP TABLE organizationcontactemail`);
  // Organization mirroring (orgmirrorconfig and the tables that point at it) came later still.
  await api.sql.query(`DROP TABLE orgmirrorconfig CASCADE`);
}, 60_000);
afterAll(async () => {
  await Promise.all([scene?.origin.close(), api?.close()]);
});

describe("a database without organizationcontactemail", () => {
  it("accepts a push of blobs and a tagged manifest", async () => {
    const blob = async (content: string, mediaType: string) => {
      const digest = sha256(content);
      const response = await scene.call("POST", `/v2/${scene.repo}/blobs/uploads/?digest=${digest}`, { body: content });
      expect(response.status).toBe(201);
      return { mediaType, digest, size: Buffer.byteLength(content) };
    };
    const config = await blob(JSON.stringify({ architecture: "amd64", os: "linux" }), "application/vnd.oci.image.config.v1+json");
    const layer = await blob("a layer", "application/vnd.oci.image.layer.v1.tar+gzip");
    const manifest = JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociManifest, config, layers: [layer] });
    const put = await scene.call("PUT", `/v2/${scene.repo}/manifests/v1`, {
      body: manifest,
      headers: { "content-type": MediaType.ociManifest },
    });
    expect(put.status).toBe(201);
    const get = await scene.call("GET", `/v2/${scene.repo}/manifests/v1`, { headers: { accept: MediaType.ociManifest } });
    expect(get.status).toBe(200);
    expect(await get.text()).toBe(manifest);
  });

  it("creates an organization with its e-mail in user.email and shows it to its admin", async () => {
    const owner = await api.user("owner");
    const org = unique("org");
    const created = await api.call("POST", "/api/v1/organization/", {
      auth: owner.basic,
      body: { name: org, email: `${org}@example.com` },
    });
    expect(created.status).toBe(201);
    const { rows } = await api.sql.query<{ email: string }>(`SELECT email FROM "user" WHERE username = $1`, [org]);
    expect(rows).toEqual([{ email: `${org}@example.com` }]);

    const view = await api.call("GET", `/api/v1/organization/${org}`, { auth: owner.basic });
    expect(view.status).toBe(200);
    expect(view.json).toMatchObject({ name: org, email: `${org}@example.com`, is_admin: true });
  });

  it("creates an organization without an e-mail (an internal uuid in user.email) and lists it", async () => {
    const owner = await api.user("owner");
    const org = unique("org");
    expect((await api.call("POST", "/api/v1/organization/", { auth: owner.basic, body: { name: org } })).status).toBe(201);
    const { rows } = await api.sql.query<{ email: string }>(`SELECT email FROM "user" WHERE username = $1`, [org]);
    expect(rows[0]!.email).toMatch(/^[0-9a-f-]{36}$/);
    const user = await api.call("GET", "/api/v1/user/", { auth: owner.basic });
    expect(user.status).toBe(200);
    expect((user.json.organizations as { name: string }[]).map((o) => o.name)).toContain(org);
  });

  it("lets an organization share a user's e-mail, as Quay's partial unique index allows", async () => {
    const owner = await api.user("owner");
    const org = unique("org");
    const email = `${owner.username}@users.test`;
    const reply = await api.call("POST", "/api/v1/organization/", { auth: owner.basic, body: { name: org, email } });
    expect(reply.status).toBe(201);
    const { rows } = await api.sql.query<{ email: string }>(`SELECT email FROM "user" WHERE username = $1`, [org]);
    expect(rows).toEqual([{ email }]);
  });

  it("creates and deletes an organization's robot without the organization-mirror tables", async () => {
    const owner = await api.user("owner");
    const org = unique("org");
    expect((await api.call("POST", "/api/v1/organization/", { auth: owner.basic, body: { name: org } })).status).toBe(201);
    expect((await api.call("PUT", `/api/v1/organization/${org}/robots/bot`, { auth: owner.basic })).status).toBe(201);
    expect((await api.call("DELETE", `/api/v1/organization/${org}/robots/bot`, { auth: owner.basic })).status).toBe(204);
    const { rows } = await api.sql.query(`SELECT id FROM "user" WHERE username = $1`, [`${org}+bot`]);
    expect(rows).toEqual([]);
  });
});
