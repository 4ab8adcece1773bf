/**
 * The runtime-neutral app under Node on real PostgreSQL: the version check, error
 * envelopes, and health reporting when a backing service fails.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { guardedUpstream } from "../../src/adapters/upstream/guarded-fetch.js";
import { memoryCache } from "../../src/adapters/cache/memory.js";
import { nodePostgresSql } from "../../src/adapters/sql/node-postgres.js";
import { serviceKeys } from "../../src/core/auth/service-keys.js";
import { loadRegistryConfig } from "../../src/core/config.js";
import { RegistryError } from "../../src/core/errors/registry-error.js";
import type { BlobStore } from "../../src/core/ports/blob-store.js";
import type { Sql } from "../../src/core/ports/sql.js";
import type { Registry } from "../../src/core/registry.js";
import { createApp } from "../../src/http/app.js";
import { fakeClock } from "../support/fake-clock.js";
import { createTestDatabase, type TestDatabase } from "../support/services.js";
import { nodeStreamHashing } from "../../src/adapters/hashing/node.js";

/** These tests never touch storage; any call is a failure. */
const noStorage = new Proxy({} as BlobStore, {
  get: (_, method) => () => Promise.reject(new Error(`unexpected BlobStore.${String(method)}`)),
});

describe("createApp", () => {
  let db: TestDatabase;
  let sql: Sql;
  let registry: Registry;

  beforeAll(async () => {
    db = await createTestDatabase("app");
    sql = nodePostgresSql(db.url);
    const clock = fakeClock();
    registry = {
      config: loadRegistryConfig({}),
      sql,
      cache: memoryCache(),
      blobs: noStorage,
      signer: null,
      clock,
      keys: serviceKeys({ sql, clock }),
      signingKey: null,
      upstream: guardedUpstream({ policy: { allowedHosts: [] } }),
      hashing: null,
      streamHashing: nodeStreamHashing,
    };
  });
  afterAll(async () => {
    await sql.close();
    await db.drop();
  });

  it("answers GET and HEAD /v2/ with 401, the API version and the request's host in the challenge", async () => {
    const app = createApp(registry);
    for (const method of ["GET", "HEAD"]) {
      const response = await app.request("http://localhost:5000/v2/", { method });
      expect(response.status).toBe(401);
      expect(response.headers.get("Docker-Distribution-API-Version")).toBe("registry/2.0");
      expect(response.headers.get("WWW-Authenticate")).toBe('Bearer realm="http://localhost:5000/v2/auth",service="localhost:5000"');
    }
  });

  it("uses the configured hostname and scheme behind a proxy", async () => {
    const app = createApp({ ...registry, config: loadRegistryConfig({ PIER_SERVER_HOSTNAME: "quay.example", PIER_URL_SCHEME: "https" }) });
    const response = await app.request("http://10.0.0.5:8080/v2/");
    expect(response.headers.get("WWW-Authenticate")).toBe('Bearer realm="https://quay.example/v2/auth",service="quay.example"');
  });

  it("turns a RegistryError into the OCI envelope with its status", async () => {
    const app = createApp(registry);
    app.get("/v2/test/denied", () => {
      throw new RegistryError("DENIED", "Quota has been exceeded on namespace");
    });
    const response = await app.request("/v2/test/denied");
    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({ errors: [{ code: "DENIED", message: "Quota has been exceeded on namespace", detail: {} }] });
  });

  it("adds the challenge to 401 errors", async () => {
    const app = createApp(registry);
    app.get("/v2/test/unauthorized", () => {
      throw new RegistryError("UNAUTHORIZED");
    });
    const response = await app.request("http://r.test/v2/test/unauthorized");
    expect(response.status).toBe(401);
    expect(response.headers.get("WWW-Authenticate")).toBe('Bearer realm="http://r.test/v2/auth",service="r.test"');
  });

  it("hides unexpected errors behind a 500 UNKNOWN and reports them once", async () => {
    const reported: unknown[] = [];
    const app = createApp(registry, { onUnexpectedError: (error) => reported.push(error) });
    app.get("/v2/test/crash", () => {
      throw new Error("password=hunter2 in a driver message");
    });
    const response = await app.request("/v2/test/crash");
    expect(response.status).toBe(500);
    const body = await response.text();
    expect(JSON.parse(body)).toEqual({
      errors: [{ code: "UNKNOWN", message: "internal error; the request was not completed", detail: {} }],
    });
    expect(body).not.toContain("hunter2");
    expect(reported).toHaveLength(1);
  });

  it("answers unknown paths without a 500", async () => {
    const app = createApp(registry);
    const v2 = await app.request("/v2/a/b/c/d");
    expect(v2.status).toBe(404);
    expect((await v2.json()).errors[0].code).toBe("UNSUPPORTED");
    const other = await app.request("/nothing-here");
    expect(other.status).toBe(404);
    expect(await other.json()).toEqual({ error: "not found" });
  });

  it("reports health per service: 200 when the cache fails, 503 when the database does", async () => {
    const failing = <T extends object>(target: T): T =>
      new Proxy(target, {
        get: (t, p) => (typeof (t as never)[p] === "function" ? () => Promise.reject(new Error("down")) : (t as never)[p]),
      });

    const healthy = await createApp(registry).request("/health/instance");
    expect(healthy.status).toBe(200);
    expect(await healthy.json()).toEqual({ data: { services: { database: true, cache: true } }, status_code: 200 });

    const cacheDown = await createApp({ ...registry, cache: failing(registry.cache) }).request("/health/instance");
    expect(cacheDown.status).toBe(200);
    expect(await cacheDown.json()).toEqual({ data: { services: { database: true, cache: false } }, status_code: 200 });

    const dbDown = await createApp({ ...registry, sql: failing(registry.sql) }).request("/health/instance");
    expect(dbDown.status).toBe(503);
    expect(await dbDown.json()).toEqual({ data: { services: { database: false, cache: true } }, status_code: 503 });
  });
});
