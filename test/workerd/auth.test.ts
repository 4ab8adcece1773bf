/**
 * Registry tokens inside workerd, against real PostgreSQL (Neon) holding Quay-shaped
 * accounts: what `/v2/auth` grants to whom, and every way a presented token can be
 * wrong. Tokens are also built by hand from Quay's documented layout (Web Crypto, not
 * Pier's encoder) to prove the two interoperate.
 */
import { env } from "cloudflare:workers";
import { SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { FieldEncrypter } from "../../src/core/auth/field-encryption.js";
import { hashPassword } from "../../src/core/auth/passwords.js";
import { RobotTokenUses } from "../../src/core/auth/robot-token-uses.js";
import { mintRobotToken, ROBOT_TOKEN_PLACEHOLDER, robotTokenHash } from "../../src/core/auth/robot-tokens.js";
import { storeRobotTokenHash } from "../../src/db/queries/robot-tokens.js";
import { createInstanceKey, type InstanceKey } from "../../src/core/auth/service-keys.js";
import type { Registry } from "../../src/core/registry.js";
import { createApp } from "../../src/http/app.js";
import { edgeRegistry } from "../../workers/edge.js";
import { fakeClock } from "../support/fake-clock.js";
import { createNamespace, createRepository, storeImage, tagManifest, unique, type SeedTarget } from "../support/quay-seed.js";

const HOST = "registry.example";
const SECRET_KEY = "test-database-secret-key";
const clock = fakeClock(Date.now());
const base = edgeRegistry(env);
let registry: Registry;
let key: InstanceKey;
const fields = new FieldEncrypter(SECRET_KEY);

const org = unique("acme");
const other = unique("other");
const alice = unique("alice");
const bob = unique("bob");
const robotToken = "R".repeat(32) + "0123456789ABCDEFGHIJKLMNOPQRSTUV";
const otherRobotToken = "Q".repeat(64);
const appTokenName = "A".repeat(60);
const appTokenSecret = "S".repeat(60);
const PASSWORD = "correct horse battery staple";

async function app(): Promise<ReturnType<typeof createApp>> {
  return createApp(registry);
}

function basic(username: string, password: string): string {
  return `Basic ${btoa(`${username}:${password}`)}`;
}

interface Claims {
  iss: string;
  aud: string;
  sub: string;
  nbf: number;
  iat: number;
  exp: number;
  access: { type: string; name: string; actions: string[] }[];
  context: Record<string, unknown>;
}

function decodePart<T>(part: string): T {
  return JSON.parse(atob(part.replace(/-/g, "+").replace(/_/g, "/"))) as T;
}

async function token(
  scopes: string[],
  authorization?: string,
): Promise<{ status: number; body: { token?: string; errors?: { code: string; message: string }[] } }> {
  const query = new URLSearchParams([["service", HOST], ...scopes.map((s): [string, string] => ["scope", s])]);
  const response = await (await app()).request(`https://${HOST}/v2/auth?${query}`, { headers: authorization ? { authorization } : {} });
  return { status: response.status, body: (await response.json()) as { token?: string } };
}

async function grantedActions(scope: string, authorization?: string): Promise<string[]> {
  const { status, body } = await token([scope], authorization);
  expect(status, JSON.stringify(body)).toBe(200);
  return decodePart<Claims>(body.token!.split(".")[1]!).access[0]!.actions;
}

function get(path: string, bearer?: string): Promise<Response> {
  return Promise.resolve(
    createApp(registry).request(`https://${HOST}${path}`, { headers: bearer ? { authorization: `Bearer ${bearer}` } : {} }),
  );
}

const b64url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
const b64json = (value: unknown) => b64url(new TextEncoder().encode(JSON.stringify(value)));

/** A token assembled from Quay's documented layout with raw Web Crypto. */
async function quayFormatToken(claims: Partial<Claims>, header: Record<string, unknown> = {}): Promise<string> {
  const now = Math.floor(clock.now() / 1000);
  const body = { iss: "quay", aud: HOST, nbf: now, iat: now, exp: now + 3600, sub: alice, access: [], context: {}, ...claims };
  const signingInput = `${b64json({ alg: "RS256", typ: "JWT", kid: key.signing.kid, ...header })}.${b64json(body)}`;
  const signature = await crypto.subtle.sign(
    "RSASSA-PKCS1-v1_5",
    key.signing.privateKey as CryptoKey,
    new TextEncoder().encode(signingInput),
  );
  return `${signingInput}.${b64url(new Uint8Array(signature))}`;
}

beforeAll(async () => {
  key = await createInstanceKey(base.sql, clock, "http://auth.test");
  registry = { ...base, clock, signingKey: key.signing, config: { ...base.config, databaseSecretKey: SECRET_KEY } };
  const target: SeedTarget = { sql: base.sql, blobs: base.blobs };
  const hash = await hashPassword(PASSWORD);
  const orgId = await createNamespace(target, org, { organization: true });
  const otherId = await createNamespace(target, other, { organization: true });
  const aliceId = await createNamespace(target, alice);
  const bobId = await createNamespace(target, bob);
  await base.sql.query(`UPDATE "user" SET password_hash = $1 WHERE id = ANY($2::int[])`, [hash, `{${aliceId},${bobId}}`]);

  const privateId = await createRepository(target, orgId, "private-app", { visibility: "private" });
  await tagManifest(target, privateId, "v1", (await storeImage(target, privateId, { layerSizes: [16] })).manifest.id);
  const publicId = await createRepository(target, orgId, "public-app");
  await tagManifest(target, publicId, "v1", (await storeImage(target, publicId, { layerSizes: [16] })).manifest.id);
  await createRepository(target, orgId, "frozen", { state: 1 });

  // alice reads private-app through a member team; the robot writes public-app and frozen directly.
  const team = await base.sql.query<{ id: number }>(
    `INSERT INTO team (name, organization_id, role_id, description) SELECT 'readers', $1, id, '' FROM teamrole WHERE name = 'member' RETURNING id`,
    [orgId],
  );
  await base.sql.query(`INSERT INTO teammember (user_id, team_id) VALUES ($1, $2)`, [aliceId, team.rows[0]!.id]);
  await base.sql.query(
    `INSERT INTO repositorypermission (team_id, repository_id, role_id) SELECT $1, $2, id FROM role WHERE name = 'read'`,
    [team.rows[0]!.id, privateId],
  );
  for (const [robot, owner, secret] of [
    [`${org}+ci`, orgId, robotToken],
    [`${other}+ci`, otherId, otherRobotToken],
  ] as const) {
    const id = await createNamespace(target, robot);
    await base.sql.query(`UPDATE "user" SET robot = true, email = $2 WHERE id = $1`, [id, crypto.randomUUID()]);
    await base.sql.query(`INSERT INTO robotaccounttoken (robot_account_id, token, fully_migrated) VALUES ($1, $2, true)`, [
      id,
      await fields.encrypt(secret),
    ]);
    if (owner === orgId) {
      for (const repo of ["public-app", "frozen"]) {
        await base.sql.query(
          `INSERT INTO repositorypermission (user_id, repository_id, role_id)
           SELECT $1, r.id, ro.id FROM repository r, role ro WHERE r.namespace_user_id = $2 AND r.name = $3 AND ro.name = 'write'`,
          [id, orgId, repo],
        );
      }
    }
  }
  await base.sql.query(
    `INSERT INTO appspecificauthtoken (user_id, uuid, title, token_name, token_secret, created, expiration)
     VALUES ($1, $2, 'ci', $3, $4, now(), NULL), ($1, $5, 'old', $6, $4, now() - interval '2 days', now() - interval '1 day')`,
    [aliceId, crypto.randomUUID(), appTokenName, await fields.encrypt(appTokenSecret), crypto.randomUUID(), "B".repeat(60)],
  );
}, 60_000);

describe("GET /v2/auth", () => {
  it("issues an anonymous pull token for a public repository, in Quay's layout", async () => {
    const { status, body } = await token([`repository:${org}/public-app:pull`]);
    expect(status).toBe(200);
    expect(Object.keys(body)).toEqual(["token"]);
    const [header, payload] = body.token!.split(".");
    expect(decodePart(header!)).toEqual({ alg: "RS256", typ: "JWT", kid: key.signing.kid });
    const claims = decodePart<Claims>(payload!);
    expect(claims).toMatchObject({ iss: "quay", aud: HOST, sub: "(anonymous)" });
    expect(claims.nbf).toBe(claims.iat);
    expect(claims.exp - claims.iat).toBe(3600);
    expect(claims.access).toEqual([{ type: "repository", name: `${org}/public-app`, actions: ["pull"] }]);
    expect(claims.context).toEqual({
      version: 2,
      entity_kind: "anonymous",
      kind: "anonymous",
      "com.apostille.roots": { [`${org}/public-app`]: "$disabled" },
      "com.apostille.root": "$disabled",
    });
  });

  it("grants by role: team readers pull, strangers and anonymous get nothing, writers push, owners create", async () => {
    expect(await grantedActions(`repository:${org}/private-app:pull,push`)).toEqual([]);
    expect(await grantedActions(`repository:${org}/private-app:pull,push`, basic(alice, PASSWORD))).toEqual(["pull"]);
    expect(await grantedActions(`repository:${org}/private-app:pull`, basic(bob, PASSWORD))).toEqual([]);
    expect(await grantedActions(`repository:${org}/public-app:pull,push`, basic(`${org}+ci`, robotToken))).toEqual(["pull", "push"]);
    expect(await grantedActions(`repository:${org}/frozen:push`, basic(`${org}+ci`, robotToken))).toEqual([]);
    expect(await grantedActions(`repository:${alice}/new-repo:push,pull`, basic(alice, PASSWORD))).toEqual(["push", "pull"]);
    expect(await grantedActions(`repository:${org}/new-repo:push`, basic(alice, PASSWORD))).toEqual([]);
    expect(await grantedActions(`repository:${HOST}/${org}/public-app:pull`)).toEqual(["pull"]);
  });

  it("accepts app-specific tokens and refuses expired ones", async () => {
    expect(await grantedActions(`repository:${org}/private-app:pull`, basic("$app", appTokenName + appTokenSecret))).toEqual(["pull"]);
    const expired = await token([`repository:${org}/private-app:pull`], basic("$app", "B".repeat(60) + appTokenSecret));
    expect(expired.status).toBe(401);
    expect(expired.body.errors![0]).toMatchObject({ code: "UNAUTHORIZED", message: "Invalid token" });
  });

  it("accepts legacy access tokens ($token) for their one repository and role", async () => {
    const name = "T".repeat(32);
    const code = "C".repeat(32);
    await base.sql.query(
      `INSERT INTO accesstoken (friendly_name, token_name, token_code, repository_id, created, role_id, temporary)
       SELECT 'ci', $1, $2, r.id, now(), ro.id, false FROM repository r, role ro
       WHERE r.name = 'private-app' AND r.namespace_user_id = (SELECT id FROM "user" WHERE username = $3) AND ro.name = 'read'`,
      [name, await fields.encrypt(code), org],
    );
    expect(await grantedActions(`repository:${org}/private-app:pull,push`, basic("$token", name + code))).toEqual(["pull"]);
    expect(await grantedActions(`repository:${org}/public-app:push`, basic("$token", name + code))).toEqual([]);
    expect((await token([], basic("$token", name + "X".repeat(32)))).status).toBe(401);
  });

  it("accepts Quay OAuth access tokens ($oauthtoken), capped by their scopes", async () => {
    const ownerId = (await base.sql.query<{ id: number }>(`SELECT id FROM "user" WHERE username = $1`, [org])).rows[0]!.id;
    const aliceId = (await base.sql.query<{ id: number }>(`SELECT id FROM "user" WHERE username = $1`, [alice])).rows[0]!.id;
    const app = await base.sql.query<{ id: number }>(
      `INSERT INTO oauthapplication (client_id, redirect_uri, application_uri, organization_id, name, description, fully_migrated)
       VALUES ($1, '', '', $2, 'ci', '', true) RETURNING id`,
      [unique("client"), ownerId],
    );
    const mint = async (scope: string) => {
      const prefix = unique("oauth").padEnd(20, "X").slice(0, 20);
      const secret = crypto.randomUUID().replace(/-/g, "");
      await base.sql.query(
        `INSERT INTO oauthaccesstoken (uuid, application_id, authorized_user_id, scope, token_type, expires_at, data, token_code, token_name, created)
         VALUES ($1, $2, $3, $4, 'Bearer', now() + interval '1 hour', '{}', $5, $6, now())`,
        [crypto.randomUUID(), app.rows[0]!.id, aliceId, scope, await hashPassword(secret), prefix],
      );
      return prefix + secret;
    };
    const readToken = await mint("repo:read");
    expect(await grantedActions(`repository:${alice}/own:pull,push`, basic("$oauthtoken", readToken))).toEqual([]);
    expect(await grantedActions(`repository:${org}/private-app:pull`, basic("$oauthtoken", readToken))).toEqual(["pull"]);
    const creator = await mint("repo:read,repo:write,repo:create");
    expect(await grantedActions(`repository:${alice}/own:push`, basic("$oauthtoken", creator))).toEqual(["push"]);
    expect((await token([], basic("$oauthtoken", `${readToken.slice(0, 20)}wrong`))).status).toBe(401);
  });

  it("refuses wrong, regenerated and foreign robot tokens", async () => {
    expect((await token([], basic(`${org}+ci`, otherRobotToken))).status).toBe(401);
    expect(await grantedActions(`repository:${org}/public-app:push`, basic(`${other}+ci`, otherRobotToken))).toEqual([]);
    await base.sql.query(`UPDATE robotaccounttoken SET token = $1 WHERE robot_account_id = (SELECT id FROM "user" WHERE username = $2)`, [
      await fields.encrypt(otherRobotToken),
      `${other}+ci`,
    ]);
    const regenerated = "Z".repeat(64);
    await base.sql.query(`UPDATE robotaccounttoken SET token = $1 WHERE robot_account_id = (SELECT id FROM "user" WHERE username = $2)`, [
      await fields.encrypt(regenerated),
      `${other}+ci`,
    ]);
    expect((await token([], basic(`${other}+ci`, otherRobotToken))).status).toBe(401);
    expect((await token([], basic(`${other}+ci`, regenerated))).status).toBe(200);
  });

  it("accepts a prefixed robot token beside Quay's, refuses the placeholder, and records the last use through Neon", async () => {
    const robot = `${org}+hashed`;
    const id = await createNamespace({ sql: base.sql, blobs: base.blobs }, robot);
    await base.sql.query(`UPDATE "user" SET robot = true, email = $2 WHERE id = $1`, [id, crypto.randomUUID()]);
    const placeholder = await fields.encrypt(ROBOT_TOKEN_PLACEHOLDER + "P".repeat(64));
    await base.sql.query(`INSERT INTO robotaccounttoken (robot_account_id, token, fully_migrated) VALUES ($1, $2, true)`, [
      id,
      placeholder,
    ]);
    const prefixed = mintRobotToken();
    await storeRobotTokenHash(base.sql, id, await robotTokenHash(prefixed), placeholder, clock.now());

    const uses = new RobotTokenUses(() => clock.now());
    const edge = createApp(registry, { robotTokenUses: uses });
    const status = async (password: string) =>
      (await edge.request(`https://${HOST}/v2/auth?service=${HOST}`, { headers: { authorization: basic(robot, password) } })).status;
    expect(await status(prefixed)).toBe(200);
    expect(await status(ROBOT_TOKEN_PLACEHOLDER + "P".repeat(64))).toBe(401);
    expect(await status(prefixed.slice(0, -1) + (prefixed.endsWith("x") ? "y" : "x"))).toBe(401);
    expect(await grantedActions(`repository:${org}/public-app:push`, basic(`${org}+ci`, robotToken))).toEqual(["push"]);

    await uses.flush(base.sql, true);
    const { rows } = await base.sql.query<{ last_used_ms: string }>(`SELECT last_used_ms FROM pier.robot_token WHERE robot_id = $1`, [id]);
    expect(Number(rows[0]!.last_used_ms)).toBe(clock.now());
  });

  it("locks a user out briefly after a wrong password, and refuses disabled and deleted users", async () => {
    expect((await token([], basic(bob, "wrong"))).status).toBe(401);
    const locked = await token([], basic(bob, PASSWORD));
    expect(locked.status).toBe(401);
    expect(locked.body.errors![0]!.message).toMatch(/^Too many login attempts/);
    clock.advance(1_000);
    expect((await token([], basic(bob, PASSWORD))).status).toBe(200);

    await base.sql.query(`UPDATE "user" SET enabled = false WHERE username = $1`, [bob]);
    expect((await token([], basic(bob, PASSWORD))).body.errors![0]!.message).toBe(
      "This user has been disabled. Please contact your administrator.",
    );
    await base.sql.query(`UPDATE "user" SET username = $2 WHERE username = $1`, [bob, `${bob}-deleted`]);
    expect((await token([], basic(bob, PASSWORD))).status).toBe(401);
  });

  it("writes login_success for a pure login and login_failure for refused credentials", async () => {
    const since = (await base.sql.query<{ id: string }>(`SELECT COALESCE(max(id), 0)::text AS id FROM logentry3`)).rows[0]!.id;
    expect((await token([], basic(alice, PASSWORD))).status).toBe(200);
    expect((await token([], basic(`${org}+ci`, "not-the-token"))).status).toBe(401);
    const { rows } = await base.sql.query<{ kind: string; account: string; performer: string | null; metadata_json: string }>(
      `SELECT k.name AS kind, u.username AS account, p.username AS performer, l.metadata_json
       FROM logentry3 l JOIN logentrykind k ON k.id = l.kind_id JOIN "user" u ON u.id = l.account_id LEFT JOIN "user" p ON p.id = l.performer_id
       WHERE l.id > $1 ORDER BY l.id`,
      [since],
    );
    expect(rows.map((r) => [r.kind, r.account, r.performer])).toEqual([
      ["login_success", alice, alice],
      ["login_failure", org, null],
    ]);
    expect(JSON.parse(rows[1]!.metadata_json)).toMatchObject({ type: "v2auth", kind: "robot", username: `${org}+ci` });
  });

  it("answers bad requests with Quay's errors", async () => {
    expect(await token([])).toMatchObject({ status: 401, body: { errors: [{ code: "UNAUTHORIZED" }] } });
    expect(await token(["registry:catalog:*"])).toMatchObject({
      status: 400,
      body: { errors: [{ code: "INVALID_REQUEST", message: "Unable to decode repository and actions: registry:catalog:*" }] },
    });
    expect(await token([`repository:${org}/Bad..Name:pull`])).toMatchObject({ status: 400, body: { errors: [{ code: "NAME_INVALID" }] } });
    expect((await token([], "Basic !!!")).status).toBe(401);
  });
});

describe("bearer tokens on /v2", () => {
  it("lets a granted token read a private repository, and nothing else", async () => {
    const { body } = await token([`repository:${org}/private-app:pull`], basic(alice, PASSWORD));
    expect((await get(`/v2/${org}/private-app/manifests/v1`, body.token)).status).toBe(200);
    expect((await get(`/v2/${org}/private-app/manifests/v1`)).status).toBe(401);
    expect((await get(`/v2/${org}/private-app/tags/list`, body.token)).status).toBe(200);
    const elsewhere = await get(`/v2/${other}/private-app/manifests/v1`, body.token);
    expect(elsewhere.status).toBe(401);
    expect((await get("/v2/", body.token)).status).toBe(200);
    expect((await get("/v2/")).status).toBe(401);
  });

  it("tells a caller whose token grants the repository that it does not exist (NAME_UNKNOWN)", async () => {
    const granted = await quayFormatToken({ access: [{ type: "repository", name: `${org}/deleted-since`, actions: ["pull"] }] });
    const response = await get(`/v2/${org}/deleted-since/manifests/v1`, granted);
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({
      errors: [{ code: "NAME_UNKNOWN", message: "repository name not known to registry", detail: "repository not found" }],
    });
    expect((await get(`/v2/${org}/deleted-since/tags/list`, granted)).status).toBe(404);
  });

  it("tells a caller who may create repositories in the namespace that a repository does not exist (NAME_UNKNOWN)", async () => {
    const carol = unique("carol");
    const carolId = await createNamespace({ sql: base.sql, blobs: base.blobs }, carol);
    await base.sql.query(`UPDATE "user" SET password_hash = $1 WHERE id = $2`, [await hashPassword(PASSWORD), carolId]);
    const creators = await base.sql.query<{ id: number }>(
      `INSERT INTO team (name, organization_id, role_id, description)
       SELECT 'creators', u.id, tr.id, '' FROM "user" u, teamrole tr WHERE u.username = $1 AND tr.name = 'creator' RETURNING id`,
      [other],
    );
    await base.sql.query(`INSERT INTO teammember (user_id, team_id) VALUES ($1, $2)`, [carolId, creators.rows[0]!.id]);

    // The namespace owner (pull alone) and an organization's creator team (pushing): nothing to hide from them.
    for (const [user, repo, actions] of [
      [alice, `${alice}/nothing`, "pull"],
      [carol, `${other}/nothing`, "pull,push"],
    ] as const) {
      const { body } = await token([`repository:${repo}:${actions}`], basic(user, PASSWORD));
      const response = await get(`/v2/${repo}/manifests/v1`, body.token);
      expect(response.status).toBe(404);
      expect(await response.json()).toEqual({
        errors: [{ code: "NAME_UNKNOWN", message: "repository name not known to registry", detail: "repository not found" }],
      });
      expect((await get(`/v2/${repo}/tags/list`, body.token)).status).toBe(404);
    }
    // A creator's pull grant would outlive another member creating the repository privately.
    expect(await grantedActions(`repository:${other}/nothing:pull`, basic(carol, PASSWORD))).toEqual([]);
    // Everyone else still cannot tell a missing repository from a private one.
    for (const [repo, authorization] of [
      [`${alice}/nothing`, basic(carol, PASSWORD)],
      [`${org}/nothing`, basic(alice, PASSWORD)],
      [`${other}/nothing`, undefined],
    ] as const) {
      const { body } = await token([`repository:${repo}:pull`], authorization);
      expect((await get(`/v2/${repo}/manifests/v1`, body.token)).status).toBe(401);
    }
  });

  it("accepts a token built by hand in Quay's layout", async () => {
    const handmade = await quayFormatToken({ access: [{ type: "repository", name: `${org}/private-app`, actions: ["pull"] }] });
    expect((await get(`/v2/${org}/private-app/manifests/v1`, handmade)).status).toBe(200);
  });

  it("refuses the attack matrix with 401 and Quay's error body", async () => {
    const now = Math.floor(clock.now() / 1000);
    const grant = { access: [{ type: "repository", name: `${org}/private-app`, actions: ["pull"] }] };
    const valid = await quayFormatToken(grant);
    const [h, p, s] = valid.split(".") as [string, string, string];
    const publicJwk = (await base.sql.query<{ jwk: string }>(`SELECT jwk FROM servicekey WHERE kid = $1`, [key.signing.kid])).rows[0]!.jwk;
    const hs256 = await new SignJWT({ ...grant, sub: alice })
      .setProtectedHeader({ alg: "HS256", kid: key.signing.kid })
      .setIssuer("quay")
      .setAudience(HOST)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + 60)
      .sign(new TextEncoder().encode(publicJwk));
    const attacks: Record<string, string> = {
      "alg none": `${b64json({ alg: "none", typ: "JWT", kid: key.signing.kid })}.${p}.`,
      "HS256 with the public key": hs256,
      expired: await quayFormatToken({ ...grant, iat: now - 7200, nbf: now - 7200, exp: now - 3600 }),
      "not yet valid": await quayFormatToken({ ...grant, nbf: now + 600, iat: now, exp: now + 1200 }),
      "issued in the future": await quayFormatToken({ ...grant, iat: now + 600, nbf: now, exp: now + 1200 }),
      "too long-lived": await quayFormatToken({ ...grant, exp: now + 7200 }),
      "wrong audience": await quayFormatToken({ ...grant, aud: "evil.example" }),
      "wrong issuer": await quayFormatToken({ ...grant, iss: "someone" }),
      "unknown kid": await quayFormatToken(grant, { kid: "no-such-kid" }),
      "no kid": `${b64json({ alg: "RS256", typ: "JWT" })}.${p}.${s}`,
      "tampered payload": `${h}.${b64json({ ...decodePart<Claims>(p), sub: "(anonymous)", access: [{ type: "repository", name: `${other}/x`, actions: ["*"] }] })}.${s}`,
      garbage: "not-a-jwt",
    };
    for (const [attack, bearer] of Object.entries(attacks)) {
      const response = await get(`/v2/${org}/private-app/manifests/v1`, bearer);
      expect(response.status, attack).toBe(401);
      const body = (await response.json()) as { error?: string };
      expect(typeof body.error, attack).toBe("string");
      expect(response.headers.get("www-authenticate"), attack).toBe(`Bearer realm="https://${HOST}/v2/auth",service="${HOST}"`);
    }
    // A valid token for another repository or action grants nothing here.
    const pushOnly = await quayFormatToken({ access: [{ type: "repository", name: `${org}/public-app`, actions: ["push"] }] });
    expect((await get(`/v2/${org}/private-app/manifests/v1`, pushOnly)).status).toBe(401);
  });

  it("issues tokens that verify with the public key alone", async () => {
    const { body } = await token([`repository:${org}/public-app:pull`]);
    const [h, p, s] = body.token!.split(".") as [string, string, string];
    const jwk = JSON.parse(
      (await base.sql.query<{ jwk: string }>(`SELECT jwk FROM servicekey WHERE kid = $1`, [key.signing.kid])).rows[0]!.jwk,
    );
    const publicKey = await crypto.subtle.importKey("jwk", jwk, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, false, ["verify"]);
    const signature = Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
    expect(await crypto.subtle.verify("RSASSA-PKCS1-v1_5", publicKey, signature, new TextEncoder().encode(`${h}.${p}`))).toBe(true);
  });
});
