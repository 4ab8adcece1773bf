/**
 * Instance signing keys across restarts, on real PostgreSQL with a fake clock: a key
 * kept in a file is reused (one row, expiry extended) instead of registering another;
 * keys of instances that are gone expire and are removed on Quay's schedule.
 */
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodePostgresSql } from "../../src/adapters/sql/node-postgres.js";
import { createConfiguredSigningKey, INSTANCE_KEY_LIFETIME_MS, STALE_KEY_RETENTION_MS } from "../../src/core/auth/service-keys.js";
import type { Sql } from "../../src/core/ports/sql.js";
import { migrate } from "../../src/db/migrate.js";
import { startInstanceKey } from "../../src/runtime/instance-key.js";
import { fakeClock } from "../support/fake-clock.js";
import { unique } from "../support/quay-seed.js";
import { createTestDatabase, type TestDatabase } from "../support/services.js";

let db: TestDatabase;
let sql: Sql;
let dir: string;
const failOnRefreshError = (error: unknown) => {
  throw error;
};

async function keyRows(name: string) {
  const { rows } = await sql.query<{ kid: string; expiration_date: Date; approval_id: number }>(
    `SELECT kid, expiration_date, approval_id FROM servicekey WHERE name = $1 ORDER BY id`,
    [name],
  );
  return rows;
}

beforeAll(async () => {
  db = await createTestDatabase("instkey");
  sql = nodePostgresSql(db.url);
  await migrate(sql);
  dir = await mkdtemp(join(tmpdir(), "pier-instance-key-"));
});
afterAll(async () => {
  await sql?.close();
  await db?.drop();
  await rm(dir, { recursive: true, force: true });
});

describe("an instance key kept in a file", () => {
  it("is written 0600 on first start and reused on restarts: one row, expiry extended", async () => {
    const clock = fakeClock(Date.UTC(2026, 5, 1, 12));
    const name = unique("http://keep");
    const keyFile = join(dir, `${unique("key")}.jwk`);
    const first = await startInstanceKey(sql, clock, { name, keyFile, onRefreshError: failOnRefreshError });
    first.stop();
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(keyFile, "utf8")).kid).toBe(first.signing.kid);

    // Down for three hours: the row expired meanwhile; the restart revives the same key.
    clock.advance(3 * 60 * 60_000);
    const second = await startInstanceKey(sql, clock, { name, keyFile, onRefreshError: failOnRefreshError });
    second.stop();
    clock.advance(60_000);
    const third = await startInstanceKey(sql, clock, { name, keyFile, onRefreshError: failOnRefreshError });
    third.stop();

    expect(second.signing.kid).toBe(first.signing.kid);
    expect(third.signing.kid).toBe(first.signing.kid);
    const rows = await keyRows(name);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.expiration_date.getTime()).toBe(clock.now() + INSTANCE_KEY_LIFETIME_MS);
  });

  it("is replaced when its row was removed (an operator revoked it)", async () => {
    const clock = fakeClock(Date.UTC(2026, 5, 1, 12));
    const name = unique("http://revoked");
    const keyFile = join(dir, `${unique("key")}.jwk`);
    const first = await startInstanceKey(sql, clock, { name, keyFile, onRefreshError: failOnRefreshError });
    first.stop();
    await sql.query(`DELETE FROM servicekey WHERE kid = $1`, [first.signing.kid]);

    const second = await startInstanceKey(sql, clock, { name, keyFile, onRefreshError: failOnRefreshError });
    second.stop();
    expect(second.signing.kid).not.toBe(first.signing.kid);
    expect((await keyRows(name)).map((row) => row.kid)).toEqual([second.signing.kid]);
    expect(JSON.parse(await readFile(keyFile, "utf8")).kid).toBe(second.signing.kid);
  });

  it("may hold an operator's key without expiry (npm run signing-key), which stays without expiry", async () => {
    const clock = fakeClock(Date.UTC(2026, 5, 1, 12));
    const name = unique("operator");
    const keyFile = join(dir, `${unique("key")}.jwk`);
    const jwk = await createConfiguredSigningKey(sql, clock, name);
    await writeFile(keyFile, JSON.stringify(jwk), { mode: 0o600 });
    const started = await startInstanceKey(sql, clock, { name: unique("http://origin"), keyFile, onRefreshError: failOnRefreshError });
    started.stop();
    expect(started.signing.kid).toBe(jwk.kid);
    const rows = await keyRows(name);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.expiration_date).toBeNull();
  });

  it("refuses to start on a file that is not a private key", async () => {
    const keyFile = join(dir, `${unique("key")}.jwk`);
    await writeFile(keyFile, "not json", { mode: 0o600 });
    await expect(
      startInstanceKey(sql, fakeClock(), { name: unique("http://bad"), keyFile, onRefreshError: failOnRefreshError }),
    ).rejects.toThrow(keyFile);
  });
});

describe("keys of instances that are gone", () => {
  it("expire 120 min after their last refresh and are deleted with their approval a week later", async () => {
    const clock = fakeClock(Date.UTC(2026, 6, 1, 12));
    const name = unique("http://gone");
    const gone = await startInstanceKey(sql, clock, { name, keyFile: null, onRefreshError: failOnRefreshError });
    gone.stop();
    const [row] = await keyRows(name);
    expect(row!.expiration_date.getTime()).toBe(clock.now() + INSTANCE_KEY_LIFETIME_MS);

    // Expired but within Quay's week: kept (an operator may still look at it).
    clock.advance(INSTANCE_KEY_LIFETIME_MS + 60_000);
    (await startInstanceKey(sql, clock, { name: unique("http://other"), keyFile: null, onRefreshError: failOnRefreshError })).stop();
    expect(await keyRows(name)).toHaveLength(1);

    clock.advance(STALE_KEY_RETENTION_MS);
    (await startInstanceKey(sql, clock, { name: unique("http://other"), keyFile: null, onRefreshError: failOnRefreshError })).stop();
    expect(await keyRows(name)).toEqual([]);
    const approval = await sql.query(`SELECT id FROM servicekeyapproval WHERE id = $1`, [row!.approval_id]);
    expect(approval.rows).toEqual([]);
  });

  it("leaves operator keys without expiry alone", async () => {
    const name = unique("operator");
    await createConfiguredSigningKey(sql, fakeClock(Date.UTC(2020, 0, 1)), name);
    const clock = fakeClock(Date.UTC(2030, 0, 1));
    (await startInstanceKey(sql, clock, { name: unique("http://other"), keyFile: null, onRefreshError: failOnRefreshError })).stop();
    expect(await keyRows(name)).toHaveLength(1);
  });
});
