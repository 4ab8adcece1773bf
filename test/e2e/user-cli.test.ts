/**
 * `npm run user`: the first users of an origin or edge deployment. Created and reset
 * against the database, then used to log in at /v2/auth; wrong input exits 2 with one line.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/http/app.js";
import { startOriginRegistry, TEST_HOST, type OriginFixture } from "../support/origin-registry.js";
import { unique } from "../support/quay-seed.js";

const run = promisify(execFile);
let origin: OriginFixture;

beforeAll(async () => {
  origin = await startOriginRegistry("usercli");
}, 60_000);
afterAll(async () => {
  await origin?.close();
});

async function user(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  try {
    const { stdout, stderr } = await run("npx", ["tsx", "scripts/user.ts", ...args], {
      env: { ...process.env, DATABASE_URL: origin.databaseUrl, ...env },
      timeout: 60_000,
    });
    return { code: 0, out: stdout, err: stderr };
  } catch (error) {
    const { code, stdout, stderr } = error as { code: number; stdout: string; stderr: string };
    return { code, out: stdout, err: stderr };
  }
}

async function login(username: string, password: string): Promise<number> {
  const app = createApp(origin.registry);
  const response = await app.request(`https://${TEST_HOST}/v2/auth?service=${TEST_HOST}`, {
    headers: { authorization: `Basic ${btoa(`${username}:${password}`)}` },
  });
  await response.arrayBuffer();
  return response.status;
}

describe("npm run user", () => {
  it("creates a user who can log in, says how to make it a superuser, and resets its password", async () => {
    const name = unique("ops");
    const created = await user(["create", name, "--password", "first-password", "--superuser"], { PIER_SUPER_USERS: "root" });
    expect(created.code).toBe(0);
    expect(created.out).toContain(`Created user "${name}".`);
    expect(created.out).toContain(`PIER_SUPER_USERS=root,${name}`);
    expect(created.out).not.toContain("first-password");
    expect(await login(name, "first-password")).toBe(200);

    const reset = await user(["reset-password", name]);
    expect(reset.code).toBe(0);
    const generated = /Password: (\S+)/.exec(reset.out)?.[1];
    expect(generated).toBeDefined();
    expect(await login(name, generated!)).toBe(200);
    expect(await login(name, "first-password")).toBe(401);
  }, 120_000);

  it("refuses wrong input with one line and exit 2", async () => {
    const name = unique("dup");
    expect((await user(["create", name, "--password", "long-enough"])).code).toBe(0);
    const cases: [string[], RegExp][] = [
      [["create", name, "--password", "long-enough"], /already exists/],
      [["reset-password", unique("nobody")], /does not exist/],
      [["create", "Bad Name"], /not a valid user name/],
      [["create", unique("short"), "--password", "short"], /at least 8 characters/],
      [["rename", name], /^usage:/],
    ];
    for (const [args, message] of cases) {
      const result = await user(args);
      expect(result.code, args.join(" ")).toBe(2);
      expect(result.err.trim()).toMatch(message);
    }
    const noDatabase = await user(["create", unique("x")], { DATABASE_URL: "" });
    expect(noDatabase.code).toBe(2);
    expect(noDatabase.err).toMatch(/DATABASE_URL is required/);
  }, 180_000);
});
