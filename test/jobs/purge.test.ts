/**
 * The purge job: a repository marked for deletion loses every dependent row and its own,
 * its queue item and marker go, the blobs no other repository uses are deleted (rows,
 * then objects) while shared ones stay whole, quota totals stay true, a dry run changes
 * nothing, and every table with a foreign key to `repository` is handled; a namespace
 * marked for deletion as Quay marks it goes with its robots, teams and quotas, after its
 * grace period.
 */
import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { purgeDeleted } from "../../src/core/jobs/purge.js";
import { jobs, type JobContext } from "../../src/core/jobs/scheduler.js";
import { MediaType } from "../../src/core/model/media-types.js";
import { blobKey } from "../../src/core/storage-layout.js";
import { markRepositoryForDeletion } from "../../src/db/queries/management-repositories.js";
import { startPushScene, type PushScene } from "../support/origin-registry.js";
import { createNamespace, createRepository, storeBlob, storeManifest, tagManifest } from "../support/quay-seed.js";
import { expectTotalsTrue } from "../support/quota-check.js";
import { imagePusher, sha256 } from "../support/image-pushes.js";

let scene: PushScene;
let namespaceId: number;
async function call(method: string, path: string, body?: string, contentType?: string): Promise<Response> {
  const token = await scene.origin.token("writer", {
    [`${scene.namespace}/gone`]: ["pull", "push"],
    [`${scene.namespace}/tools`]: ["pull", "push"],
  });
  return scene.call(method, path, { body, token, headers: contentType ? { "content-type": contentType } : {} });
}

const upload = (repository: string, content: string) => imagePusher(scene.namespace, call).upload(repository, content);
const push = (repository: string, tag: string, layers: string[]) =>
  imagePusher(scene.namespace, call).push(repository, tag, `${repository}:${tag}:${crypto.randomUUID()}`, layers);

function context(dryRun = false): JobContext & { lines: string[] } {
  const lines: string[] = [];
  return { dryRun, lines, report: (line) => lines.push(line), reclaimed: () => {} };
}

async function count(sql: string, params: (string | number)[]): Promise<number> {
  const { rows } = await scene.origin.registry.sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM (${sql}) q`, params);
  return rows[0]!.n;
}

/** Creates `gone` with two images (one layer shared with `tools`), a star, a permission and a loose upload, then deletes it. */
async function deletedRepository(): Promise<{ id: number; shared: string; own: string; loose: string }> {
  const id = await createRepository(scene.origin.registry, namespaceId, "gone");
  const shared = `shared ${crypto.randomUUID()}`;
  const own = `own ${crypto.randomUUID()}`;
  await push("gone", "v1", [shared, own]);
  await push("gone", "v2", [own]);
  await push("tools", `keep-${id}`, [shared]);
  const loose = `loose ${crypto.randomUUID()}`;
  await upload("gone", loose);
  const sql = scene.origin.registry.sql;
  await sql.query(`INSERT INTO star (user_id, repository_id, created) VALUES ($1, $2, now())`, [namespaceId, id]);
  await sql.query(`INSERT INTO repositorypermission (user_id, repository_id, role_id) SELECT $1, $2, id FROM role WHERE name = 'read'`, [
    namespaceId,
    id,
  ]);
  await sql.transaction((tx) =>
    markRepositoryForDeletion(tx, { id, namespace: scene.namespace, name: "gone" }, `gone-${crypto.randomUUID()}`, new Date(), "s"),
  );
  return { id, shared, own, loose };
}

/**
 * An organization with a repository holding an image, a team with a member, a robot with
 * a permission on this scene's `tools`, a quota and an auto-prune policy, then marked for
 * deletion as Quay's mark_namespace_for_deletion does: a marker, the row disabled and
 * renamed, a namespacegc queue item available after `graceMs`.
 */
async function namespaceMarkedForDeletion(graceMs: number) {
  const sql = scene.origin.registry.sql;
  const name = `doomed${crypto.randomUUID().slice(0, 8)}`;
  const target = { sql, blobs: scene.origin.registry.blobs };
  const id = await createNamespace(target, name, { organization: true });
  const repositoryId = await createRepository(target, id, "app");
  const own = `namespace own ${crypto.randomUUID()}`;
  const blob = await storeBlob(target, new TextEncoder().encode(own));
  const manifest = await storeManifest(target, repositoryId, JSON.stringify({ schemaVersion: 2, n: name }), MediaType.ociManifest, {
    blobs: [blob],
  });
  await tagManifest(target, repositoryId, "v1", manifest.id);
  const robotId = await createNamespace(target, `${name}+bot`);
  await sql.query(`UPDATE "user" SET robot = true WHERE id = $1`, [robotId]);
  await sql.query(`INSERT INTO robotaccountmetadata (robot_account_id, description, unstructured_json) VALUES ($1, '', '{}')`, [robotId]);
  const team = await sql.query<{ id: number }>(
    `INSERT INTO team (name, organization_id, role_id, description) SELECT 'owners', $1, id, '' FROM teamrole WHERE name = 'admin' RETURNING id`,
    [id],
  );
  await sql.query(`INSERT INTO teammember (user_id, team_id) VALUES ($1, $2)`, [robotId, team.rows[0]!.id]);
  await sql.query(
    `INSERT INTO repositorypermission (user_id, repository_id, role_id) SELECT $1, r.id, role.id FROM repository r, role
     WHERE r.namespace_user_id = $2 AND r.name = 'tools' AND role.name = 'read'`,
    [robotId, namespaceId],
  );
  const quota = await sql.query<{ id: number }>(
    `INSERT INTO userorganizationquota (namespace_id, limit_bytes) VALUES ($1, 1000000) RETURNING id`,
    [id],
  );
  await sql.query(
    `INSERT INTO quotalimits (quota_id, quota_type_id, percent_of_limit) SELECT $1, id, 80 FROM quotatype WHERE name = 'Warning'`,
    [quota.rows[0]!.id],
  );
  await sql.query(`INSERT INTO namespaceautoprunepolicy (uuid, namespace_id, policy) VALUES ($1, $2, '{}')`, [crypto.randomUUID(), id]);
  const marker = await sql.query<{ id: number }>(
    `INSERT INTO deletednamespace (namespace_id, marked, original_username, original_email) VALUES ($1, now(), $2, $3) RETURNING id`,
    [id, name, `${name}@seed.test`],
  );
  await sql.query(`UPDATE "user" SET enabled = false, username = $2, email = $2 WHERE id = $1`, [id, crypto.randomUUID()]);
  const queued = await sql.query<{ id: number }>(
    `INSERT INTO queueitem (queue_name, body, available_after, available, retries_remaining, state_id)
     VALUES ($1, '{}', $2, true, 5, $3) RETURNING id`,
    [`namespacegc/${id}/`, new Date(Date.now() + graceMs), crypto.randomUUID()],
  );
  await sql.query(`UPDATE deletednamespace SET queue_id = $2 WHERE id = $1`, [marker.rows[0]!.id, String(queued.rows[0]!.id)]);
  return { id, name, robotId, own, queueId: queued.rows[0]!.id };
}

beforeAll(async () => {
  scene = await startPushScene("purge", { env: { PIER_QUOTA_MANAGEMENT: "true" } });
  const { rows } = await scene.origin.registry.sql.query<{ id: number }>(`SELECT namespace_user_id AS id FROM repository WHERE id = $1`, [
    scene.repoId,
  ]);
  namespaceId = rows[0]!.id;
  await createRepository(scene.origin.registry, namespaceId, "tools");
}, 60_000);
afterAll(() => scene?.origin.close());

describe("purge job", () => {
  it("is in the job table every minute, before gc, with a dry run", () => {
    const names = jobs.map((job) => job.name);
    expect(names.indexOf("purge")).toBeLessThan(names.indexOf("gc"));
    expect(jobs.find((job) => job.name === "purge")).toMatchObject({ everyMinutes: 1, supportsDryRun: true });
  });

  it("in a dry run reports the repository and changes nothing", async () => {
    const gone = await deletedRepository();
    const run = context(true);
    expect(await purgeDeleted(scene.origin.registry, run)).toBeGreaterThanOrEqual(1);
    expect(run.lines).toContain(`repository ${scene.namespace}/gone`);
    expect(run.lines).toContain(`blob ${sha256(gone.own)} (${Buffer.byteLength(gone.own)} bytes)`);
    expect(await count(`SELECT 1 FROM repository WHERE id = $1`, [gone.id])).toBe(1);
    expect(await count(`SELECT 1 FROM manifest WHERE repository_id = $1`, [gone.id])).toBe(2);
    expect(await scene.origin.registry.blobs.stat(blobKey(sha256(gone.own))!)).not.toBeNull();

    // The real run: every row of it goes, then the blobs only it used.
    const real = context();
    await purgeDeleted(scene.origin.registry, real);
    expect(real.lines).toContain(`repository ${scene.namespace}/gone`);
    for (const table of [
      "repository WHERE id",
      "tag WHERE repository_id",
      "manifest WHERE repository_id",
      "manifestblob WHERE repository_id",
      "uploadedblob WHERE repository_id",
      "star WHERE repository_id",
      "repositorypermission WHERE repository_id",
      "deletedrepository WHERE repository_id",
      "quotarepositorysize WHERE repository_id",
    ]) {
      expect(await count(`SELECT 1 FROM ${table} = $1`, [gone.id]), table).toBe(0);
    }
    expect(await count(`SELECT 1 FROM queueitem WHERE queue_name LIKE $1`, [`repositorygc/${scene.namespace}/${gone.id}/%`])).toBe(0);
    for (const content of [gone.own, gone.loose]) {
      expect(await count(`SELECT 1 FROM imagestorage WHERE content_checksum = $1`, [sha256(content)])).toBe(0);
      expect(await scene.origin.registry.blobs.stat(blobKey(sha256(content))!)).toBeNull();
    }
    // The layer `tools` shares stays whole and pullable there.
    expect(await scene.origin.registry.blobs.stat(blobKey(sha256(gone.shared))!)).toEqual({ size: Buffer.byteLength(gone.shared) });
    expect((await call("HEAD", `/v2/${scene.namespace}/tools/blobs/${sha256(gone.shared)}`)).status).toBe(200);
    await expectTotalsTrue(scene.origin.registry.sql, namespaceId);
    // Nothing left to purge.
    expect(await purgeDeleted(scene.origin.registry, context())).toBe(0);
  });

  it("purges a namespace marked for deletion as Quay marks it: repositories, robots, teams, quotas, then its row", async () => {
    const sql = scene.origin.registry.sql;
    const doomed = await namespaceMarkedForDeletion(0);
    const waiting = await namespaceMarkedForDeletion(3600_000);
    const run = context();
    await purgeDeleted(scene.origin.registry, run);
    expect(run.lines).toContain(`namespace ${doomed.name}`);
    expect(run.lines).toContain(`repository ${doomed.name}/app`);
    expect(run.lines).toContain(`blob ${sha256(doomed.own)} (${Buffer.byteLength(doomed.own)} bytes)`);
    for (const [table, column] of [
      ["user", "id"],
      ["repository", "namespace_user_id"],
      ["team", "organization_id"],
      ["userorganizationquota", "namespace_id"],
      ["namespaceautoprunepolicy", "namespace_id"],
      ["deletednamespace", "namespace_id"],
    ]) {
      expect(await count(`SELECT 1 FROM "${table}" WHERE ${column} = $1`, [doomed.id]), table).toBe(0);
    }
    expect(await count(`SELECT 1 FROM "user" WHERE id = $1`, [doomed.robotId])).toBe(0);
    expect(await count(`SELECT 1 FROM repositorypermission WHERE user_id = $1`, [doomed.robotId])).toBe(0);
    expect(await count(`SELECT 1 FROM queueitem WHERE id = $1`, [doomed.queueId])).toBe(0);
    expect(await scene.origin.registry.blobs.stat(blobKey(sha256(doomed.own))!)).toBeNull();
    // Quay's grace period: a marker whose queue item is not available yet waits, repositories untouched.
    expect(await count(`SELECT 1 FROM "user" WHERE id = $1`, [waiting.id])).toBe(1);
    expect(await count(`SELECT 1 FROM repository WHERE namespace_user_id = $1 AND state <> 3`, [waiting.id])).toBe(1);
    // The namespace the robot had a permission in is whole.
    expect((await call("HEAD", `/v2/${scene.namespace}/tools/blobs/${sha256(doomed.own)}`)).status).toBe(404);
    expect(await sql.query(`SELECT 1 FROM repository WHERE id = $1`, [scene.repoId]).then((r) => r.rows.length)).toBe(1);
  });

  it("handles every table with a foreign key to user (repositories go through the repository purge)", async () => {
    const { rows } = await scene.origin.registry.sql.query<{ name: string }>(
      `SELECT DISTINCT c.conrelid::regclass::text AS name FROM pg_constraint c
       WHERE c.contype = 'f' AND c.confrelid = '"user"'::regclass AND c.confdeltype <> 'c' AND c.conrelid <> 'repository'::regclass`,
    );
    const source = await readFile("src/db/queries/purge.ts", "utf8");
    const unhandled = rows.map((r) => r.name).filter((table) => !new RegExp(`(FROM|UPDATE) ${table} `).test(source));
    expect(rows.length).toBeGreaterThan(30);
    expect(unhandled).toEqual([]);
  });

  it("handles every table with a foreign key to repository", async () => {
    const { rows } = await scene.origin.registry.sql.query<{ name: string }>(
      `SELECT DISTINCT c.conrelid::regclass::text AS name FROM pg_constraint c
       WHERE c.contype = 'f' AND c.confrelid = 'repository'::regclass AND c.confdeltype <> 'c'`,
    );
    const source = await readFile("src/db/queries/purge.ts", "utf8");
    const unhandled = rows.map((r) => r.name).filter((table) => !new RegExp(`(FROM|UPDATE) ${table} `).test(source));
    expect(rows.length).toBeGreaterThan(20);
    expect(unhandled).toEqual([]);
  });
});
