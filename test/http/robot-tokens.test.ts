/**
 * Prefixed robot tokens (PIER_ROBOT_TOKENS=prefixed) on real PostgreSQL: new and
 * regenerated robots get a `pier_rbt_` token kept only as SHA-256 in pier.robot_token,
 * logins at /v2/auth with it (fetch and skopeo), rotation retiring the old one, Quay's
 * tokens working with the setting on and off, batched last-used times, and the
 * pier_auth_credentials_total counters by kind.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { asyncLocalScope } from "../../src/adapters/scope/async-local.js";
import { FieldEncrypter } from "../../src/core/auth/field-encryption.js";
import { RobotTokenUses } from "../../src/core/auth/robot-token-uses.js";
import type { RegistryConfig } from "../../src/core/config.js";
import { createApp } from "../../src/http/app.js";
import { observed } from "../../src/http/observability.js";
import { listen, type RunningServer } from "../../src/runtime/node-server.js";
import { unique } from "../support/quay-seed.js";
import { API_HOST, basicAuth, SECRET_KEY, startApiHarness, tokenAccess, type ApiHarness, type TestUser } from "../support/api-harness.js";

const execFileAsync = promisify(execFile);
const PREFIXED = /^pier_rbt_[0-9A-Za-z]{42}$/;
const QUAY_TOKEN = /^[A-Z0-9]{64}$/;

let api: ApiHarness;
let owner: TestUser;
const org = unique("rbtok");
/** One database, two settings: the same registry with PIER_ROBOT_TOKENS=prefixed and with the default. */
const apps = {} as Record<RegistryConfig["robotTokens"], ReturnType<typeof createApp>>;
let metrics: ReturnType<typeof observed>["observability"]["metrics"];
const uses = new RobotTokenUses(() => Date.now());

beforeAll(async () => {
  api = await startApiHarness("robottokens", { PIER_ROBOT_TOKENS: "prefixed" });
  owner = await api.user("owner");
  const { registry, observability } = observed(api.registry, "origin", asyncLocalScope());
  metrics = observability.metrics;
  for (const robotTokens of ["quay", "prefixed"] as const) {
    apps[robotTokens] = createApp({ ...registry, config: { ...registry.config, robotTokens } }, { observability, robotTokenUses: uses });
  }
  expect((await call("prefixed", "POST", "/api/v1/organization/", { name: org })).status).toBe(201);
  const repo = { namespace: org, repository: "app", visibility: "private", description: "" };
  expect((await call("prefixed", "POST", "/api/v1/repository", repo)).status).toBe(201);
});
afterAll(() => api?.close());

async function call(mode: RegistryConfig["robotTokens"], method: string, path: string, body?: unknown, auth = owner.basic) {
  const headers: Record<string, string> = { authorization: auth };
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await apps[mode].request(`https://${API_HOST}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : null };
}

/** A robot of the org with write access to org/app, created under `mode`; its token. */
async function robotWithAccess(mode: RegistryConfig["robotTokens"], shortname: string): Promise<string> {
  const created = await call(mode, "PUT", `/api/v1/organization/${org}/robots/${shortname}`);
  expect(created.status).toBe(201);
  const grant = await call(mode, "PUT", `/api/v1/repository/${org}/app/permissions/user/${org}+${shortname}`, { role: "write" });
  expect(grant.status).toBe(200);
  return created.json.token;
}

/** `/v2/auth` as a client logs in: the status and the actions granted on org/app. */
async function login(mode: RegistryConfig["robotTokens"], username: string, password: string) {
  const query = new URLSearchParams({ service: API_HOST, scope: `repository:${org}/app:pull,push` });
  const response = await apps[mode].request(`https://${API_HOST}/v2/auth?${query}`, {
    headers: { authorization: basicAuth(username, password) },
  });
  const body = (await response.json()) as { token?: string };
  return { status: response.status, actions: body.token ? tokenAccess(body.token)[0]!.actions : null };
}

const granted = { status: 200, actions: ["pull", "push"] };
const refused = { status: 401, actions: null };

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

async function storedHash(shortname: string) {
  const { rows } = await api.sql.query<{ token_sha256: string; last_used_ms: string | null }>(
    `SELECT p.token_sha256, p.last_used_ms FROM pier.robot_token p JOIN "user" u ON u.id = p.robot_id WHERE u.username = $1`,
    [`${org}+${shortname}`],
  );
  return rows[0] ?? null;
}

async function quayToken(shortname: string): Promise<string> {
  const { rows } = await api.sql.query<{ token: string }>(
    `SELECT t.token FROM robotaccounttoken t JOIN "user" u ON u.id = t.robot_account_id WHERE u.username = $1`,
    [`${org}+${shortname}`],
  );
  return new FieldEncrypter(SECRET_KEY).decrypt(rows[0]!.token);
}

function counter(text: string, kind: string): number {
  const series = `pier_auth_credentials_total{runtime="origin",kind="${kind}"} `;
  return Number(
    text
      .split("\n")
      .find((l) => l.startsWith(series))
      ?.slice(series.length),
  );
}

describe("PIER_ROBOT_TOKENS=prefixed", () => {
  it("gives a new robot a pier_rbt_ token, shown once and stored only as its SHA-256", async () => {
    const token = await robotWithAccess("prefixed", "ci");
    expect(token).toMatch(PREFIXED);
    expect(await storedHash("ci")).toEqual({ token_sha256: sha256(token), last_used_ms: null });
    // Quay's row is complete, but holds a placeholder, not the token, and Pier never accepts it.
    const decoy = await quayToken("ci");
    expect(decoy).toMatch(/^pier_placeholder_[A-Z0-9]{64}$/);
    expect(await login("prefixed", `${org}+ci`, decoy)).toEqual(refused);
    const shown = await call("prefixed", "GET", `/api/v1/organization/${org}/robots/ci`);
    expect(shown.status).toBe(200);
    expect(shown.json.token).toBeNull();
    const listed = await call("prefixed", "GET", `/api/v1/organization/${org}/robots?token=true`);
    expect(listed.json.robots.find((r: { name: string }) => r.name === `${org}+ci`).token).toBeNull();
  });

  it("logs the robot in at /v2/auth, refuses a mistyped token, and records the last use in a batch", async () => {
    const token = await robotWithAccess("prefixed", "login");
    const before = Date.now();
    expect(await login("prefixed", `${org}+login`, token)).toEqual(granted);
    // The checksum catches a changed character; another robot's name with this token is refused too.
    const last = token.at(-1) === "a" ? "b" : "a";
    expect(await login("prefixed", `${org}+login`, token.slice(0, -1) + last)).toEqual(refused);
    expect(await login("prefixed", `${org}+ci`, token)).toEqual(refused);
    expect((await storedHash("login"))!.last_used_ms).toBeNull();
    await uses.flush(api.sql, true);
    expect(Number((await storedHash("login"))!.last_used_ms)).toBeGreaterThanOrEqual(before);
    const shown = await call("prefixed", "GET", `/api/v1/organization/${org}/robots/login`);
    expect(shown.json.last_accessed).not.toBeNull();
  });

  it("rotates through the regenerate endpoints: the new token is returned once, the old one stops working", async () => {
    const old = await robotWithAccess("prefixed", "rotate");
    const regenerated = await call("prefixed", "POST", `/api/v1/organization/${org}/robots/rotate/regenerate`);
    expect(regenerated.status).toBe(200);
    expect(regenerated.json).toMatchObject({ name: `${org}+rotate`, token: expect.stringMatching(PREFIXED) });
    expect(regenerated.json.token).not.toBe(old);
    expect(await login("prefixed", `${org}+rotate`, old)).toEqual(refused);
    expect(await login("prefixed", `${org}+rotate`, regenerated.json.token)).toEqual(granted);
    expect((await storedHash("rotate"))!.token_sha256).toBe(sha256(regenerated.json.token));
  });

  it("rotates a user's robot the same way", async () => {
    const created = await call("prefixed", "PUT", "/api/v1/user/robots/mine");
    expect(created.json.token).toMatch(PREFIXED);
    const regenerated = await call("prefixed", "POST", "/api/v1/user/robots/mine/regenerate");
    expect(regenerated.status).toBe(200);
    expect(regenerated.json.token).toMatch(PREFIXED);
    const name = `${owner.username}+mine`;
    const query = `service=${API_HOST}`;
    const status = async (token: string) =>
      (await apps.prefixed.request(`https://${API_HOST}/v2/auth?${query}`, { headers: { authorization: basicAuth(name, token) } })).status;
    expect(await status(created.json.token)).toBe(401);
    expect(await status(regenerated.json.token)).toBe(200);
  });

  it("retires a prefixed token that Quay replaced by regenerating the robot itself", async () => {
    const token = await robotWithAccess("prefixed", "quayregen");
    const fresh = "Q".repeat(64);
    await api.sql.query(`UPDATE robotaccounttoken SET token = $1 WHERE robot_account_id = (SELECT id FROM "user" WHERE username = $2)`, [
      await new FieldEncrypter(SECRET_KEY).encrypt(fresh),
      `${org}+quayregen`,
    ]);
    expect(await login("prefixed", `${org}+quayregen`, token)).toEqual(refused);
    expect(await login("prefixed", `${org}+quayregen`, fresh)).toEqual(granted);
  });
});

describe("old credentials", () => {
  it("accept Quay's robot tokens with the setting on and off", async () => {
    const legacy = await robotWithAccess("quay", "legacy");
    expect(legacy).toMatch(QUAY_TOKEN);
    expect(await storedHash("legacy")).toBeNull();
    expect(await login("quay", `${org}+legacy`, legacy)).toEqual(granted);
    expect(await login("prefixed", `${org}+legacy`, legacy)).toEqual(granted);
  });

  it("keep prefixed tokens working after the setting is turned off, until a regeneration gives a Quay token", async () => {
    const token = await robotWithAccess("prefixed", "switch");
    expect(await login("quay", `${org}+switch`, token)).toEqual(granted);
    const regenerated = await call("quay", "POST", `/api/v1/organization/${org}/robots/switch/regenerate`);
    expect(regenerated.json.token).toMatch(QUAY_TOKEN);
    expect(await storedHash("switch")).toBeNull();
    expect(await login("quay", `${org}+switch`, token)).toEqual(refused);
    expect(await login("quay", `${org}+switch`, regenerated.json.token)).toEqual(granted);
    expect((await call("quay", "GET", `/api/v1/organization/${org}/robots/switch`)).json.token).toBe(regenerated.json.token);
  });

  it("are counted by kind in pier_auth_credentials_total", async () => {
    const prefixed = await robotWithAccess("prefixed", "counted");
    const legacy = await robotWithAccess("quay", "countedlegacy");
    const read = async () => {
      const text = await metrics.registry.render();
      const [robot_prefixed, robot_legacy, password, app_token] = ["robot_prefixed", "robot_legacy", "password", "app_token"].map((k) =>
        counter(text, k),
      ) as [number, number, number, number];
      return { robot_prefixed, robot_legacy, password, app_token };
    };
    const before = await read();
    expect(before.app_token).toBe(0);
    expect(await login("prefixed", `${org}+counted`, prefixed)).toEqual(granted);
    expect(await login("prefixed", `${org}+countedlegacy`, legacy)).toEqual(granted);
    expect(await login("prefixed", `${org}+countedlegacy`, legacy)).toEqual(granted);
    expect((await login("prefixed", owner.username, owner.password)).status).toBe(200);
    expect(await login("prefixed", `${org}+counted`, "pier_rbt_wrong")).toEqual(refused);
    expect(await read()).toEqual({
      robot_prefixed: before.robot_prefixed + 1,
      robot_legacy: before.robot_legacy + 2,
      password: before.password + 1,
      app_token: 0,
    });
  });
});

describe("skopeo", () => {
  let server: RunningServer;
  let dir: string;

  beforeAll(async () => {
    // Absolute URLs from the request's own host, so the token realm points at this server.
    const config = { ...api.registry.config, serverHostname: null, urlScheme: null, robotTokens: "prefixed" as const };
    server = await listen(createApp({ ...api.registry, config }), { hostname: "127.0.0.1", port: 0 });
    dir = await mkdtemp(join(tmpdir(), "pier-robot-tokens-"));
  });
  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("logs in with a prefixed robot token and is refused the rotated-away one", async () => {
    const old = await robotWithAccess("prefixed", "skopeo");
    const fresh = (await call("prefixed", "POST", `/api/v1/organization/${org}/robots/skopeo/regenerate`)).json.token as string;
    const skopeo = (token: string) =>
      execFileAsync(
        "skopeo",
        [
          "login",
          "--tls-verify=false",
          "--authfile",
          join(dir, "auth.json"),
          "-u",
          `${org}+skopeo`,
          "-p",
          token,
          `127.0.0.1:${server.port}`,
        ],
        { timeout: 30_000 },
      );
    expect((await skopeo(fresh)).stdout).toContain("Login Succeeded");
    await expect(skopeo(old)).rejects.toThrow(/invalid username\/password|unauthorized/i);
  });
});
