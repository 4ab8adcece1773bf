/**
 * Pull audit entries (Quay's pull_repo) on real PostgreSQL: written in batches after
 * the fact, never by the pull itself, with Quay's metadata and the performer resolved.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PullAuditBuffer } from "../../src/core/audit-buffer.js";
import { MediaType } from "../../src/core/model/media-types.js";
import { createApp } from "../../src/http/app.js";
import { countingSql } from "../support/counting.js";
import { fakeClock } from "../support/fake-clock.js";
import { startOriginRegistry, TEST_HOST, type OriginFixture } from "../support/origin-registry.js";
import { seedPullFixture, type PullFixture } from "../support/pull-fixture.js";
import { createNamespace } from "../support/quay-seed.js";

let origin: OriginFixture;
let fx: PullFixture;

beforeAll(async () => {
  origin = await startOriginRegistry("pullaudit");
  fx = await seedPullFixture(origin.registry, Date.now());
}, 60_000);
afterAll(() => origin?.close());

describe("pull audit", () => {
  it("records each manifest pull (HEAD too) in one batch per interval, without SQL in the pulls", async () => {
    const clock = fakeClock(Date.now());
    const buffer = new PullAuditBuffer(() => clock.now(), 5_000);
    const sql = countingSql(origin.registry.sql);
    const app = createApp({ ...origin.registry, sql: sql.target }, { pullAudit: buffer });
    const puller = `puller${crypto.randomUUID().slice(0, 8)}`;
    await createNamespace(origin.registry, puller);
    const token = await origin.token(puller, { [fx.app]: ["pull"] });
    const get = (path: string, init: RequestInit = {}) =>
      app.request(`https://${TEST_HOST}${path}`, {
        ...init,
        headers: { accept: MediaType.ociManifest, "user-agent": "audit-test/1", ...(init.headers as object) },
      });

    expect((await get(`/v2/${fx.app}/manifests/v1`)).status).toBe(200);
    sql.reset();
    expect((await get(`/v2/${fx.app}/manifests/v1`, { method: "HEAD" })).status).toBe(200);
    expect(
      (await get(`/v2/${fx.app}/manifests/${fx.docker.manifest.digest}`, { headers: { authorization: `Bearer ${token}` } })).status,
    ).toBe(200);
    expect((await get(`/v2/${fx.app}/manifests/missing`)).status).toBe(404);
    await buffer.flush(origin.registry.sql);
    expect(sql.count()).toBe(2); // the cold digest and missing-tag lookups; auditing added nothing

    const since = (await origin.registry.sql.query<{ id: string }>(`SELECT COALESCE(max(id), 0)::text AS id FROM logentry3`)).rows[0]!.id;
    clock.advance(5_000);
    await buffer.flush(origin.registry.sql);
    const { rows } = await origin.registry.sql.query<{
      kind: string;
      account_id: number;
      performer: string | null;
      repository_id: number;
      metadata_json: string;
    }>(
      `SELECT k.name AS kind, l.account_id, p.username AS performer, l.repository_id, l.metadata_json
       FROM logentry3 l JOIN logentrykind k ON k.id = l.kind_id LEFT JOIN "user" p ON p.id = l.performer_id
       WHERE l.id > $1 ORDER BY l.id`,
      [since],
    );
    expect(rows.map((r) => [r.kind, r.performer, r.repository_id])).toEqual([
      ["pull_repo", null, fx.appId],
      ["pull_repo", null, fx.appId],
      ["pull_repo", puller, fx.appId],
    ]);
    expect(JSON.parse(rows[0]!.metadata_json)).toEqual({ repo: "app", namespace: fx.namespace, "user-agent": "audit-test/1", tag: "v1" });
    expect(JSON.parse(rows[2]!.metadata_json)).toEqual({
      repo: "app",
      namespace: fx.namespace,
      "user-agent": "audit-test/1",
      username: puller,
      manifest_digest: fx.docker.manifest.digest,
    });
    await buffer.flush(origin.registry.sql, true);
    const after = await origin.registry.sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM logentry3 WHERE id > $1`, [since]);
    expect(after.rows[0]!.n).toBe(3);
  });

  it("keeps entries for the next flush when the database refuses a batch", async () => {
    const ns = (await origin.registry.sql.query<{ id: number }>(`SELECT namespace_user_id AS id FROM repository WHERE id = $1`, [fx.appId]))
      .rows[0]!.id;
    const buffer = new PullAuditBuffer(() => 0, 0);
    const probe = `probe-${crypto.randomUUID()}`;
    buffer.add({
      namespaceId: ns,
      repositoryId: fx.appId,
      namespace: fx.namespace,
      repository: "app",
      performer: null,
      ip: "198.51.100.7",
      userAgent: probe,
      tag: "v1",
      digest: null,
      at: Date.now(),
    });
    const refusing = { query: () => Promise.reject(new Error("database down")) };
    await expect(buffer.flush(refusing)).rejects.toThrow("database down");
    await buffer.flush(origin.registry.sql);
    const { rows } = await origin.registry.sql.query<{ ip: string }>(`SELECT ip FROM logentry3 WHERE metadata_json LIKE $1`, [
      `%${probe}%`,
    ]);
    expect(rows).toEqual([{ ip: "198.51.100.7" }]);
  });
});
