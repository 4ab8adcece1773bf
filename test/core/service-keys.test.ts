/**
 * Quay's service-key lifecycle on real PostgreSQL: an instance key is registered
 * approved with Quay's 120-minute expiry, verifies tokens it signed, stops verifying
 * when expired or unapproved, and is looked up once per cache period.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { jwtVerify, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodePostgresSql } from "../../src/adapters/sql/node-postgres.js";
import {
  createConfiguredSigningKey,
  createInstanceKey,
  INSTANCE_KEY_LIFETIME_MS,
  serviceKeys,
  signingKeyFromJwk,
} from "../../src/core/auth/service-keys.js";
import type { Queryable, Sql } from "../../src/core/ports/sql.js";
import { migrate } from "../../src/db/migrate.js";
import { fakeClock } from "../support/fake-clock.js";
import { createTestDatabase, type TestDatabase } from "../support/services.js";

/** Counts statements, to prove what is cached. */
function counting(sql: Queryable): Queryable & { count: number } {
  const wrapper = {
    count: 0,
    query: ((text: string, params?: never[]) => {
      wrapper.count++;
      return sql.query(text, params);
    }) as Queryable["query"],
  };
  return wrapper;
}

describe("service keys", () => {
  let db: TestDatabase;
  let sql: Sql;

  beforeAll(async () => {
    db = await createTestDatabase("keys");
    sql = nodePostgresSql(db.url);
    await migrate(sql);
  });
  afterAll(async () => {
    await sql.close();
    await db.drop();
  });

  it("registers the instance key as Quay does: service quay, approved, RFC 7638 kid, 120 min expiry", async () => {
    const clock = fakeClock(Date.UTC(2026, 5, 1, 12, 0, 0));
    const key = await createInstanceKey(sql, clock, "http://pier.test");
    const { rows } = await sql.query<{ service: string; name: string; jwk: string; expiration_date: Date; approval_type: string }>(
      `SELECT k.service, k.name, k.jwk, k.expiration_date, a.approval_type FROM servicekey k JOIN servicekeyapproval a ON a.id = k.approval_id WHERE k.kid = $1`,
      [key.signing.kid],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]!.service).toBe("quay");
    expect(rows[0]!.name).toBe("http://pier.test");
    expect(rows[0]!.expiration_date.getTime()).toBe(clock.now() + INSTANCE_KEY_LIFETIME_MS);
    const jwk = JSON.parse(rows[0]!.jwk);
    expect(jwk).toMatchObject({ kty: "RSA", kid: key.signing.kid, alg: "RS256", e: "AQAB" });
    expect(jwk.d).toBeUndefined();
    expect(key.signing.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it("verifies a token the instance signed, and stops once the key expires unless refreshed", async () => {
    const clock = fakeClock(Date.UTC(2026, 5, 1, 12, 0, 0));
    const key = await createInstanceKey(sql, clock, "http://pier.test");
    const token = await new SignJWT({ access: [] })
      .setProtectedHeader({ alg: "RS256", kid: key.signing.kid, typ: "JWT" })
      .sign(key.signing.privateKey);
    const keys = serviceKeys({ sql, clock, cacheMs: 0, missCacheMs: 0 });
    const publicKey = await keys.verification(key.signing.kid);
    expect(publicKey).not.toBeNull();
    await expect(jwtVerify(token, publicKey!)).resolves.toBeDefined();

    clock.advance(INSTANCE_KEY_LIFETIME_MS - 60_000);
    await key.refresh();
    clock.advance(120_000);
    expect(await keys.verification(key.signing.kid)).not.toBeNull();

    clock.advance(INSTANCE_KEY_LIFETIME_MS);
    expect(await keys.verification(key.signing.kid)).toBeNull();
  });

  it("ignores unapproved keys and keys of other services", async () => {
    const clock = fakeClock();
    const key = await createInstanceKey(sql, clock, "http://pier.test");
    const keys = serviceKeys({ sql, clock, cacheMs: 0, missCacheMs: 0 });
    await sql.query(`UPDATE servicekey SET approval_id = NULL WHERE kid = $1`, [key.signing.kid]);
    expect(await keys.verification(key.signing.kid)).toBeNull();
    const other = await createInstanceKey(sql, clock, "http://pier.test");
    await sql.query(`UPDATE servicekey SET service = 'builder' WHERE kid = $1`, [other.signing.kid]);
    expect(await keys.verification(other.signing.kid)).toBeNull();
  });

  it("asks the database once per kid per cache period, also for unknown kids and concurrent misses", async () => {
    const clock = fakeClock();
    const key = await createInstanceKey(sql, clock, "http://pier.test");
    const db = counting(sql);
    const keys = serviceKeys({ sql: db, clock, cacheMs: 60_000, missCacheMs: 10_000 });

    await Promise.all(Array.from({ length: 10 }, () => keys.verification(key.signing.kid)));
    expect(db.count).toBe(1);
    await keys.verification(key.signing.kid);
    expect(db.count).toBe(1);

    expect(await keys.verification("unknown-kid")).toBeNull();
    expect(await keys.verification("unknown-kid")).toBeNull();
    expect(db.count).toBe(2);
    clock.advance(10_001);
    expect(await keys.verification("unknown-kid")).toBeNull();
    expect(db.count).toBe(3);
  });
});

describe("configured signing keys (the edge's PIER_SIGNING_KEY)", () => {
  let db: TestDatabase;
  let sql: Sql;

  beforeAll(async () => {
    db = await createTestDatabase("cfgkey");
    sql = nodePostgresSql(db.url);
    await migrate(sql);
  });
  afterAll(async () => {
    await sql.close();
    await db.drop();
  });

  it("registers an approved key without expiry whose private JWK signs tokens the keys port verifies", async () => {
    const clock = fakeClock();
    const jwk = await createConfiguredSigningKey(sql, clock, "pier-edge");
    expect(jwk).toMatchObject({ kty: "RSA", alg: "RS256", kid: expect.any(String) });
    expect(typeof jwk.d).toBe("string");
    const { rows } = await sql.query<{ expiration_date: Date | null; approved: boolean; jwk: string }>(
      `SELECT k.expiration_date, k.approval_id IS NOT NULL AS approved, k.jwk FROM servicekey k WHERE k.kid = $1 AND k.service = 'quay'`,
      [jwk.kid!],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]!.expiration_date).toBeNull();
    expect(rows[0]!.approved).toBe(true);
    expect(JSON.parse(rows[0]!.jwk).d).toBeUndefined();

    const signing = signingKeyFromJwk(JSON.stringify(jwk));
    const token = await new SignJWT({}).setProtectedHeader({ alg: "RS256", kid: signing.kid }).sign(signing.privateKey);
    clock.advance(365 * 24 * 3600_000);
    const publicKey = await serviceKeys({ sql, clock }).verification(signing.kid);
    await expect(jwtVerify(token, publicKey!)).resolves.toBeDefined();
  });

  it("prints only the private JWK from `npm run signing-key`", async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", "scripts/signing-key.ts", "cli-edge"], {
      env: { ...process.env, DATABASE_URL: db.url },
    });
    const jwk = JSON.parse(stdout);
    expect(jwk).toMatchObject({ kty: "RSA", alg: "RS256" });
    const { rows } = await sql.query(`SELECT name FROM servicekey WHERE kid = $1`, [jwk.kid]);
    expect(rows).toEqual([{ name: "cli-edge" }]);
  });
});
