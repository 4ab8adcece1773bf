/**
 * LastPulls against PostgreSQL: the newest pull per tag, written in one statement per
 * batch when due, never moving a recorded time backwards, keeping a batch that failed,
 * and dropping pulls of repositories deleted meanwhile.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodePostgresSql } from "../../src/adapters/sql/node-postgres.js";
import type { Queryable, Sql } from "../../src/core/ports/sql.js";
import { LastPulls } from "../../src/core/proxy/last-pulls.js";
import { migrate } from "../../src/db/migrate.js";
import { countingSql } from "../support/counting.js";
import { fakeClock } from "../support/fake-clock.js";
import { createNamespace, createRepository, unique } from "../support/quay-seed.js";
import { createTestDatabase, type TestDatabase } from "../support/services.js";

let db: TestDatabase;
let sql: Sql;
let repoA: number;
let repoB: number;
const T = Date.UTC(2026, 5, 1);

beforeAll(async () => {
  db = await createTestDatabase("lastpulls");
  sql = nodePostgresSql(db.url);
  await migrate(sql);
  const org = await createNamespace({ sql, blobs: null as never }, unique("cache"), { organization: true });
  repoA = await createRepository({ sql, blobs: null as never }, org, "a");
  repoB = await createRepository({ sql, blobs: null as never }, org, "b");
});
afterAll(async () => {
  await sql?.close();
  await db?.drop();
});

async function recorded(repositoryId: number): Promise<Record<string, number>> {
  const { rows } = await sql.query<{ tag_name: string; last_pull_ms: string }>(
    `SELECT tag_name, last_pull_ms FROM pier.proxy_tag_pull WHERE repository_id = $1`,
    [repositoryId],
  );
  return Object.fromEntries(rows.map((r) => [r.tag_name, Number(r.last_pull_ms)]));
}

describe("LastPulls", () => {
  it("writes the newest pull per tag in one statement per batch, when the interval has passed", async () => {
    const clock = fakeClock(T);
    const pulls = new LastPulls(clock.now, 1_000, 2);
    pulls.add(repoA, "latest", T + 5);
    pulls.add(repoA, "latest", T + 9);
    pulls.add(repoA, "latest", T + 7);
    pulls.add(repoA, "v1", T + 1);
    pulls.add(repoB, "latest", T + 3);
    expect(pulls.size).toBe(3);
    const counted = countingSql(sql);
    await pulls.flush(counted.target);
    expect(counted.count()).toBe(0);
    clock.advance(1_000);
    await pulls.flush(counted.target);
    expect(counted.count()).toBe(2);
    expect(pulls.size).toBe(0);
    expect(await recorded(repoA)).toEqual({ latest: T + 9, v1: T + 1 });
    expect(await recorded(repoB)).toEqual({ latest: T + 3 });
  });

  it("never moves a recorded pull back in time", async () => {
    const pulls = new LastPulls(() => T);
    pulls.add(repoA, "stable", T + 100);
    await pulls.flush(sql, true);
    pulls.add(repoA, "stable", T + 50);
    await pulls.flush(sql, true);
    expect((await recorded(repoA)).stable).toBe(T + 100);
    pulls.add(repoA, "stable", T + 200);
    await pulls.flush(sql, true);
    expect((await recorded(repoA)).stable).toBe(T + 200);
  });

  it("keeps a batch the database refused, for the next flush", async () => {
    const pulls = new LastPulls(() => T);
    pulls.add(repoB, "retry", T + 10);
    const down: Queryable = { query: () => Promise.reject(new Error("connection refused")) };
    await expect(pulls.flush(down, true)).rejects.toThrow("connection refused");
    pulls.add(repoB, "retry", T + 5);
    expect(pulls.size).toBe(1);
    await pulls.flush(sql, true);
    expect((await recorded(repoB)).retry).toBe(T + 10);
  });

  it("drops pulls of repositories deleted before the flush instead of failing the batch", async () => {
    const org = await createNamespace({ sql, blobs: null as never }, unique("gone"), { organization: true });
    const doomed = await createRepository({ sql, blobs: null as never }, org, "doomed");
    const pulls = new LastPulls(() => T);
    pulls.add(doomed, "latest", T);
    pulls.add(repoB, "kept", T + 1);
    await sql.query(`DELETE FROM repository WHERE id = $1`, [doomed]);
    await pulls.flush(sql, true);
    expect(await recorded(doomed)).toEqual({});
    expect((await recorded(repoB)).kept).toBe(T + 1);
  });

  it("drops the earliest added tag beyond its bound", async () => {
    const pulls = new LastPulls(() => T, 1_000, 1_000, 2);
    pulls.add(repoA, "first", T);
    pulls.add(repoA, "second", T);
    pulls.add(repoA, "third", T);
    await pulls.flush(sql, true);
    const tags = await recorded(repoA);
    expect(tags.first).toBeUndefined();
    expect(tags).toMatchObject({ second: T, third: T });
  });
});
