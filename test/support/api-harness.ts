/**
 * The app with the management API on a fresh, migrated PostgreSQL database, an
 * in-memory cache and a registered signing key (so /v2/auth issues tokens), plus helpers
 * to create users, mint Quay-style OAuth access tokens and call the API like curl does.
 */
import type { Hono } from "hono";
import { memoryCache } from "../../src/adapters/cache/memory.js";
import { nodePostgresSql } from "../../src/adapters/sql/node-postgres.js";
import { guardedUpstream } from "../../src/adapters/upstream/guarded-fetch.js";
import { ensureUser } from "../../src/core/accounts.js";
import { hashPassword } from "../../src/core/auth/passwords.js";
import { createInstanceKey, serviceKeys } from "../../src/core/auth/service-keys.js";
import { loadRegistryConfig, type ConfigSource } from "../../src/core/config.js";
import type { BlobStore } from "../../src/core/ports/blob-store.js";
import { systemClock, type Clock } from "../../src/core/ports/clock.js";
import type { Sql } from "../../src/core/ports/sql.js";
import type { Registry } from "../../src/core/registry.js";
import { migrate } from "../../src/db/migrate.js";
import { createApp } from "../../src/http/app.js";
import { unique } from "./quay-seed.js";
import { createTestDatabase, type TestDatabase } from "../support/services.js";
import { nodeStreamHashing } from "../../src/adapters/hashing/node.js";

export const API_HOST = "registry.test";
export const SECRET_KEY = "api-test-database-secret-key";

/** The management API never touches blob storage; any call is a failure. */
const noStorage = new Proxy({} as BlobStore, {
  get: (_, method) => () => Promise.reject(new Error(`unexpected BlobStore.${String(method)}`)),
});

export interface TestUser {
  id: number;
  username: string;
  password: string;
  /** `Basic …` for the Authorization header. */
  basic: string;
}

export interface Reply {
  status: number;
  json: any;
  headers: Headers;
}

export interface CallOptions {
  /** The Authorization header; omitted for anonymous calls. */
  auth?: string;
  /** A JSON body (serialised), or a raw string sent as is. */
  body?: unknown;
  raw?: string;
}

export interface ApiHarness {
  registry: Registry;
  sql: Sql;
  app: Hono;
  /** A superuser (named in PIER_SUPER_USERS). */
  root: TestUser;
  call(method: string, path: string, options?: CallOptions): Promise<Reply>;
  user(prefix?: string): Promise<TestUser>;
  /** A Quay OAuth access token of `user` with `scope`, stored as Quay stores it. */
  oauthToken(user: TestUser, scope: string, options?: { expiresAt?: Date }): Promise<string>;
  close(): Promise<void>;
}

/** Three users around organization `org`: its owner (creator, admin), a member of its `readers` team, and an outsider. */
export async function organizationWithMembers(
  api: ApiHarness,
  org: string,
): Promise<{ owner: TestUser; member: TestUser; outsider: TestUser }> {
  const [owner, member, outsider] = [await api.user("owner"), await api.user("member"), await api.user("outsider")];
  const created = await api.call("POST", "/api/v1/organization/", { auth: owner.basic, body: { name: org } });
  if (created.status !== 201) throw new Error(`creating organization ${org}: ${created.status}`);
  const team = `/api/v1/organization/${org}/team/readers`;
  if ((await api.call("PUT", team, { auth: owner.basic, body: { role: "member" } })).status !== 200)
    throw new Error("creating team readers");
  if ((await api.call("PUT", `${team}/members/${member.username}`, { auth: owner.basic })).status !== 200)
    throw new Error("adding a member");
  return { owner, member, outsider };
}

export function basicAuth(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
}

/** `clock` drives the registry (login back-off, token times); accounts are created on the system clock. */
export async function startApiHarness(label: string, env: ConfigSource = {}, clock: Clock = systemClock): Promise<ApiHarness> {
  const db: TestDatabase = await createTestDatabase(label);
  const sql = nodePostgresSql(db.url);
  await migrate(sql);
  const rootName = unique("root");
  const config = loadRegistryConfig({
    PIER_SERVER_HOSTNAME: API_HOST,
    PIER_URL_SCHEME: "https",
    PIER_SUPER_USERS: rootName,
    PIER_DATABASE_SECRET_KEY: SECRET_KEY,
    ...env,
  });
  const key = await createInstanceKey(sql, clock, `https://${API_HOST}`);
  const registry: Registry = {
    config,
    sql,
    cache: memoryCache(),
    blobs: noStorage,
    signer: null,
    clock,
    keys: serviceKeys({ sql, clock }),
    signingKey: key.signing,
    upstream: guardedUpstream({ policy: { allowedHosts: config.ssrfAllowedHosts } }),
    hashing: null,
    streamHashing: nodeStreamHashing,
  };
  const app = createApp(registry, { onUnexpectedError: (error) => console.error("unexpected API error:", error) });

  async function user(prefix = "user", username = unique(prefix)): Promise<TestUser> {
    const password = `pw-${crypto.randomUUID()}`;
    await ensureUser(sql, systemClock, { username, email: `${username}@users.test`, password, removedTagExpirationSeconds: 1_209_600 });
    const { rows } = await sql.query<{ id: number }>(`SELECT id FROM "user" WHERE username = $1`, [username]);
    return { id: rows[0]!.id, username, password, basic: basicAuth(username, password) };
  }

  const root = await user("root", rootName);
  const appOwner = await user("appowner");

  return {
    registry,
    sql,
    app,
    root,
    user,
    async call(method, path, options = {}) {
      const headers = new Headers();
      if (options.auth) headers.set("authorization", options.auth);
      let body: string | undefined = options.raw;
      if (options.body !== undefined) {
        body = JSON.stringify(options.body);
        headers.set("content-type", "application/json");
      }
      const response = await app.request(`https://${API_HOST}${path}`, { method, headers, body });
      const text = await response.text();
      return { status: response.status, json: text ? JSON.parse(text) : null, headers: response.headers };
    },
    async oauthToken(owner, scope, options = {}) {
      const { rows } = await sql.query<{ id: number }>(
        `INSERT INTO oauthapplication (client_id, redirect_uri, application_uri, organization_id, name, description, fully_migrated)
         VALUES ($1, '', '', $2, 'test application', '', true) RETURNING id`,
        [unique("client"), appOwner.id],
      );
      const token = unique("tok").padEnd(20, "X").slice(0, 20) + crypto.randomUUID().replace(/-/g, "").toUpperCase();
      await sql.query(
        `INSERT INTO oauthaccesstoken (uuid, application_id, authorized_user_id, scope, token_type, expires_at, data, token_code, token_name, created)
         VALUES ($1, $2, $3, $4, 'Bearer', $5, $6, $7, $8, now())`,
        [
          crypto.randomUUID(),
          rows[0]!.id,
          owner.id,
          scope,
          options.expiresAt ?? new Date(Date.now() + 3600_000),
          JSON.stringify({ username: owner.username }),
          await hashPassword(token.slice(20)),
          token.slice(0, 20),
        ],
      );
      return token;
    },
    async close() {
      await sql.close();
      await db.drop();
    },
  };
}

/** `Bearer <token>`. */
export function bearer(token: string): string {
  return `Bearer ${token}`;
}

/** The pieces of a registry JWT's payload the tests look at. */
export function tokenAccess(jwt: string): { name: string; actions: string[] }[] {
  const payload = JSON.parse(Buffer.from(jwt.split(".")[1]!, "base64url").toString("utf8")) as {
    access: { name: string; actions: string[] }[];
  };
  return payload.access;
}
