/**
 * Password guessing at /v2/auth against real PostgreSQL: the back-off after a wrong
 * password holds under parallel guesses (each attempt is reserved in the user row before
 * its bcrypt check, so the row counts the checks that ran), parallel logins with the right
 * password still work, and logins do not tell existing accounts from unknown ones.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authenticate } from "../../src/core/auth/credentials.js";
import { hashPassword } from "../../src/core/auth/passwords.js";
import { VerifiedPasswords } from "../../src/core/auth/verified-passwords.js";
import { API_HOST, basicAuth, startApiHarness, type ApiHarness, type TestUser } from "../support/api-harness.js";
import { countingSql } from "../support/counting.js";
import { fakeClock } from "../support/fake-clock.js";
import { unique } from "../support/quay-seed.js";

const clock = fakeClock(Date.now());
let api: ApiHarness;

beforeAll(async () => {
  api = await startApiHarness("loginguess", {}, clock);
});
afterAll(() => api?.close());

/** A pure login at /v2/auth (no scope), as `docker login` does it. */
async function login(username: string, password: string): Promise<{ status: number; token?: string; message?: string }> {
  const response = await api.app.request(`https://${API_HOST}/v2/auth?service=${API_HOST}`, {
    headers: { authorization: basicAuth(username, password) },
  });
  const body = (await response.json()) as { token?: string; errors?: { message: string }[] };
  return { status: response.status, token: body.token, message: body.errors?.[0]?.message };
}

async function failedAttempts(user: TestUser): Promise<number> {
  const { rows } = await api.sql.query<{ n: number }>(`SELECT invalid_login_attempts AS n FROM "user" WHERE id = $1`, [user.id]);
  return rows[0]!.n;
}

function median(values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
}

async function timed(run: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await run();
  return performance.now() - started;
}

describe("login back-off under parallel guesses", () => {
  it("runs one password check for 30 simultaneous wrong guesses", async () => {
    const victim = await api.user("victim");
    const replies = await Promise.all(Array.from({ length: 30 }, (_, i) => login(victim.username, `wrong-${i}`)));
    expect(replies.every((r) => r.status === 401)).toBe(true);
    expect(await failedAttempts(victim)).toBe(1);
    expect(replies.filter((r) => r.message?.startsWith("Too many login attempts")).length).toBe(29);
  });

  it("gives a burst with the right password inside at most one check, and no token once locked", async () => {
    const victim = await api.user("burst");
    const guesses = Array.from({ length: 20 }, (_, i) => (i === 10 ? victim.password : `wrong-${i}`));
    const first = await Promise.all(guesses.map((password) => login(victim.username, password)));
    // One attempt was checked: either the right password (a token, count cleared) or one wrong guess.
    const tokens = first.filter((r) => r.status === 200).length;
    expect(tokens + (await failedAttempts(victim))).toBe(1);

    // Whichever attempt was checked, a further wrong guess leaves the account locked.
    expect((await login(victim.username, "wrong-again")).status).toBe(401);
    const locked = await Promise.all(guesses.map((password) => login(victim.username, password)));
    expect(locked.filter((r) => r.status !== 401 || r.token !== undefined)).toEqual([]);
    expect(locked.every((r) => r.message?.startsWith("Too many login attempts"))).toBe(true);

    clock.advance(3_600_000);
    const reply = await login(victim.username, victim.password);
    expect(reply.status).toBe(200);
    expect(reply.token).toBeTypeOf("string");
    expect(await failedAttempts(victim)).toBe(0);
  });

  it("still serves simultaneous logins with the right password", async () => {
    const user = await api.user("parallel");
    const replies = await Promise.all(Array.from({ length: 10 }, () => login(user.username, user.password)));
    expect(replies.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(await failedAttempts(user)).toBe(0);
  });
});

describe("logins do not reveal which accounts exist", () => {
  it("spends a password check on unknown users too (as long as on an existing one)", async () => {
    const unknown = unique("nobody");
    const known: number[] = [];
    const missing: number[] = [];
    for (let i = 0; i < 5; i++) {
      // A new user each time: a repeated login would be answered from verified passwords.
      const user = await api.user("timing");
      known.push(await timed(() => login(user.username, user.password)));
      missing.push(await timed(() => login(unknown, user.password)));
    }
    // bcrypt (cost 12) takes hundreds of ms; a lookup alone a few. Loose bound for a loaded machine.
    expect(median(missing)).toBeGreaterThan(median(known) * 0.5);
    expect((await login(unknown, "x")).message).toBe("Invalid Username or Password");
  });

  it("skips bcrypt for a password verified moments ago, never for a wrong or changed one, and keeps the back-off", async () => {
    const verifiedPasswords = new VerifiedPasswords(clock);
    const deps = { sql: api.sql, clock, fields: null, loginsInFlight: new Map(), verifiedPasswords };
    const user = await api.user("cached");
    await authenticate(deps, user.username, user.password);
    await authenticate(deps, user.username, user.password);
    expect(verifiedPasswords.hits).toBe(1);

    await expect(authenticate(deps, user.username, "wrong")).rejects.toThrow("Invalid Username or Password");
    await expect(authenticate(deps, user.username, user.password)).rejects.toThrow("Too many login attempts");
    clock.advance(2_000);
    await authenticate(deps, user.username, user.password);
    expect(verifiedPasswords.hits).toBe(2);

    await api.sql.query(`UPDATE "user" SET password_hash = $1 WHERE id = $2`, [await hashPassword("a new password"), user.id]);
    await expect(authenticate(deps, user.username, user.password)).rejects.toThrow("Invalid Username or Password");
    clock.advance(2_000);
    await authenticate(deps, user.username, "a new password");
    clock.advance(61_000);
    await authenticate(deps, user.username, "a new password");
    expect(verifiedPasswords.hits).toBe(2);
    expect(await failedAttempts(user)).toBe(0);
  });

  it("costs an unknown user the same database round trips as a wrong password (the edge pays ms for each)", async () => {
    const counted = countingSql(api.sql);
    const deps = { sql: counted.target, clock, fields: null, loginsInFlight: new Map() };
    const user = await api.user("trips");
    await expect(authenticate(deps, user.username, "wrong")).rejects.toThrow("Invalid Username or Password");
    const forExisting = counted.count();
    counted.reset();
    await expect(authenticate(deps, unique("nobody"), "wrong")).rejects.toThrow("Invalid Username or Password");
    expect(counted.count()).toBe(forExisting);
  });

  it("answers an unknown robot, a wrong robot token and a disabled owner's robot alike", async () => {
    const owner = await api.user("robotowner");
    const org = unique("guessorg");
    expect((await api.call("POST", "/api/v1/organization/", { auth: owner.basic, body: { name: org } })).status).toBe(201);
    const created = await api.call("PUT", `/api/v1/organization/${org}/robots/ci`, { auth: owner.basic });
    expect(created.status).toBe(201);
    expect((await login(`${org}+ci`, created.json.token)).status).toBe(200);

    const wrongToken = await login(`${org}+ci`, "W".repeat(64));
    const unknownRobot = await login(`${org}+nobody`, "W".repeat(64));
    expect([wrongToken.status, unknownRobot.status]).toEqual([401, 401]);
    expect(wrongToken.message).toBe(`Could not find robot with username: ${org}+ci and supplied password.`);
    expect(unknownRobot.message).toBe(`Could not find robot with username: ${org}+nobody and supplied password.`);

    await api.sql.query(`UPDATE "user" SET enabled = false WHERE username = $1`, [org]);
    expect((await login(`${org}+ci`, "W".repeat(64))).message).toBe(`Could not find robot with username: ${org}+ci and supplied password.`);
  });
});
