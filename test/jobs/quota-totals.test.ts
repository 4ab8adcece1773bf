/**
 * Quota totals stay true: after pushes (layers shared across repositories of a
 * namespace, the same manifest in two repositories), manifest, tag and blob deletes,
 * the incremental totals equal a from-scratch recomputation; the quota-backfill job
 * fills a namespace whose row was deleted and a total left incomplete, skips robots and
 * disabled namespaces, and two runners at once never recompute the same total twice.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jobs } from "../../src/core/jobs/scheduler.js";
import { backfillQuotaTotals } from "../../src/core/jobs/quota-backfill.js";
import { addManifestToTotals } from "../../src/db/queries/quota.js";
import { loadRegistryConfig } from "../../src/core/config.js";
import { startPushScene, type PushScene } from "../support/origin-registry.js";
import { createNamespace, createRepository, unique } from "../support/quay-seed.js";
import { expectTotalsTrue, recomputedTotals, recordedTotals } from "../support/quota-check.js";
import { imagePusher } from "../support/image-pushes.js";

let scene: PushScene;
let token: string;
let namespaceId: number;

function call(method: string, path: string, body?: string, contentType?: string): Promise<Response> {
  return scene.call(method, path, { body, token, headers: contentType ? { "content-type": contentType } : {} });
}

const upload = (repository: string, content: string) => imagePusher(scene.namespace, call).upload(repository, content);
/** Pushes an image of `layers` (and a config naming `seed`) under `tag`; its manifest digest. */
const push = async (repository: string, tag: string, seed: string, layers: string[]) =>
  (await imagePusher(scene.namespace, call).push(repository, tag, seed, layers)).digest;

async function namespaceRow(id: number) {
  const { rows } = await scene.origin.registry.sql.query<{ size: string; start: string | null; complete: boolean }>(
    `SELECT size_bytes::text AS size, backfill_start_ms::text AS start, backfill_complete AS complete FROM quotanamespacesize WHERE namespace_user_id = $1`,
    [id],
  );
  return rows[0];
}

const layer = (name: string, bytes: number) => name.repeat(bytes);

beforeAll(async () => {
  scene = await startPushScene("quotatotals", { env: { PIER_QUOTA_MANAGEMENT: "true" } });
  const { rows } = await scene.origin.registry.sql.query<{ id: number }>(`SELECT namespace_user_id AS id FROM repository WHERE id = $1`, [
    scene.repoId,
  ]);
  namespaceId = rows[0]!.id;
  await createRepository(scene.origin.registry, namespaceId, "tools");
  token = await scene.origin.token("writer", {
    [`${scene.namespace}/app`]: ["pull", "push"],
    [`${scene.namespace}/tools`]: ["pull", "push"],
  });
}, 60_000);
afterAll(() => scene?.origin.close());

describe("incremental totals", () => {
  it("equal a from-scratch recomputation after shared-layer pushes and manifest, tag and blob deletes", async () => {
    const shared = layer("s", 700);
    const first = await push("app", "v1", "one", [shared, layer("a", 300)]);
    await push("tools", "v1", "two", [shared, layer("t", 500)]);
    let totals = await expectTotalsTrue(scene.origin.registry.sql, namespaceId);
    // The shared layer counts once in the namespace and once in each repository.
    const configOne = Buffer.byteLength(JSON.stringify({ os: "linux", seed: "one" }));
    const configTwo = Buffer.byteLength(JSON.stringify({ os: "linux", seed: "two" }));
    expect(totals).toEqual({
      namespace: 700 + 300 + 500 + configOne + configTwo,
      repositories: { app: 700 + 300 + configOne, tools: 700 + 500 + configTwo },
    });

    // A layer first pushed in the other repository, then the same manifest in both repositories.
    await push("app", "v2", "three", [layer("t", 500), layer("b", 200)]);
    await push("tools", "copy", "one", [shared, layer("a", 300)]);
    totals = await expectTotalsTrue(scene.origin.registry.sql, namespaceId);
    expect(totals.repositories.tools).toBe(700 + 500 + 300 + configTwo + configOne);

    // Deletes end tags; manifests and their blobs count until GC collects them (Quay's rule).
    expect((await call("DELETE", `/v2/${scene.namespace}/app/manifests/${first}`)).status).toBe(202);
    expect((await call("DELETE", `/v2/${scene.namespace}/tools/manifests/copy`)).status).toBe(202);
    const loose = await upload("app", layer("u", 900));
    expect((await call("DELETE", `/v2/${scene.namespace}/app/blobs/${loose.digest}`)).status).toBe(202);
    await push("app", "v3", "four", [layer("c", 100)]);
    await expectTotalsTrue(scene.origin.registry.sql, namespaceId);
  });
});

describe("quota-backfill job", () => {
  it("is in the job table every minute, only with quota management on", () => {
    const job = jobs.find((entry) => entry.name === "quota-backfill")!;
    expect(job.everyMinutes).toBe(1);
    expect(job.enabled!(loadRegistryConfig({ PIER_QUOTA_MANAGEMENT: "true" }))).toBe(true);
    expect(job.enabled!(loadRegistryConfig({}))).toBe(false);
  });

  it("fills a namespace whose row was deleted, then the push path adds to it again", async () => {
    const sql = scene.origin.registry.sql;
    await sql.query(`DELETE FROM quotanamespacesize WHERE namespace_user_id = $1`, [namespaceId]);
    expect((await recordedTotals(sql, namespaceId)).namespace).toBeNull();
    // With no complete total the push path leaves an incomplete row for the backfill (Quay: no row).
    await push("tools", "v9", "nine", [layer("n", 50)]);
    expect((await recordedTotals(sql, namespaceId)).namespace).toBe("incomplete");

    const before = Date.now();
    expect(await backfillQuotaTotals(scene.origin.registry)).toBeGreaterThanOrEqual(1);
    const row = (await namespaceRow(namespaceId))!;
    expect(row.complete).toBe(true);
    expect(Number(row.start)).toBeGreaterThanOrEqual(before);
    expect(Number(row.start)).toBeLessThanOrEqual(Date.now());
    await expectTotalsTrue(sql, namespaceId);

    await push("app", "v10", "ten", [layer("m", 60), layer("s", 700)]);
    await expectTotalsTrue(sql, namespaceId);
    // Nothing left: the next run recomputes nothing.
    expect(await backfillQuotaTotals(scene.origin.registry)).toBe(0);
  });

  it("retries a total whose backfill started but never completed, which the push path does not touch", async () => {
    const sql = scene.origin.registry.sql;
    await sql.query(
      `UPDATE quotarepositorysize SET size_bytes = 12345, backfill_start_ms = 1, backfill_complete = false
       WHERE repository_id = (SELECT id FROM repository WHERE namespace_user_id = $1 AND name = 'tools')`,
      [namespaceId],
    );
    await push("tools", "v11", "eleven", [layer("e", 70)]);
    expect((await recordedTotals(sql, namespaceId)).repositories.tools).toBe("incomplete");
    expect(await backfillQuotaTotals(scene.origin.registry)).toBe(1);
    await expectTotalsTrue(sql, namespaceId);
  });

  it("never recomputes a total while a push that has not committed holds it, and finishes it afterwards", async () => {
    const sql = scene.origin.registry.sql;
    await push("app", "v12", "twelve", [layer("w", 80)]);
    const { rows } = await sql.query<{ id: number }>(
      `SELECT m.id FROM manifest m JOIN repository r ON r.id = m.repository_id WHERE r.namespace_user_id = $1 AND r.name = 'app' ORDER BY m.id DESC LIMIT 1`,
      [namespaceId],
    );
    const appId = (
      await sql.query<{ id: number }>(`SELECT id FROM repository WHERE namespace_user_id = $1 AND name = 'app'`, [namespaceId])
    ).rows[0]!.id;
    await sql.query(`UPDATE quotanamespacesize SET backfill_complete = false, size_bytes = 1 WHERE namespace_user_id = $1`, [namespaceId]);
    await sql.query(`UPDATE quotarepositorysize SET backfill_complete = false, size_bytes = 1 WHERE repository_id = $1`, [appId]);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const pushing = sql.transaction(async (tx) => {
      await addManifestToTotals(tx, namespaceId, appId, rows[0]!.id);
      entered();
      await held;
    });
    await inside;
    await backfillQuotaTotals(scene.origin.registry);
    expect(await recordedTotals(sql, namespaceId)).toMatchObject({ namespace: "incomplete", repositories: { app: "incomplete" } });
    release();
    await pushing;
    expect(await backfillQuotaTotals(scene.origin.registry)).toBe(2);
    await expectTotalsTrue(sql, namespaceId);
  });

  it("gives empty namespaces and repositories a zero total and skips robots and disabled namespaces", async () => {
    const sql = scene.origin.registry.sql;
    const empty = await createNamespace(scene.origin.registry, unique("empty"));
    const repository = await createRepository(scene.origin.registry, empty, "nothing");
    const disabled = await createNamespace(scene.origin.registry, unique("disabled"));
    await sql.query(`UPDATE "user" SET enabled = false WHERE id = $1`, [disabled]);
    const robot = await createNamespace(scene.origin.registry, unique("robotowner"));
    await sql.query(`UPDATE "user" SET robot = true WHERE id = $1`, [robot]);

    await backfillQuotaTotals(scene.origin.registry);
    expect(await recordedTotals(sql, empty)).toEqual({ namespace: 0, repositories: { nothing: 0 } });
    expect(await recomputedTotals(sql, empty)).toEqual({ namespace: 0, repositories: { nothing: 0 } });
    const { rows } = await sql.query(`SELECT 1 FROM quotarepositorysize WHERE repository_id = $1 AND backfill_complete`, [repository]);
    expect(rows).toHaveLength(1);
    expect(await namespaceRow(disabled)).toBeUndefined();
    expect(await namespaceRow(robot)).toBeUndefined();
  });

  it("two runners at once recompute every pending total exactly once", async () => {
    const sql = scene.origin.registry.sql;
    await sql.query(`UPDATE quotanamespacesize SET backfill_complete = false, size_bytes = 1`);
    await sql.query(`UPDATE quotarepositorysize SET backfill_complete = false, size_bytes = 1`);
    const pending = await sql.query<{ n: number }>(
      `SELECT ((SELECT count(*) FROM quotanamespacesize) + (SELECT count(*) FROM quotarepositorysize))::int AS n`,
    );
    const [a, b] = await Promise.all([backfillQuotaTotals(scene.origin.registry), backfillQuotaTotals(scene.origin.registry)]);
    expect(a + b).toBe(pending.rows[0]!.n);
    await expectTotalsTrue(sql, namespaceId);
  });
});
