/**
 * A value PostgreSQL refuses (SQLSTATE class 22) that input validation let through is
 * the client's 400 in the path family's error shape, never a 500. The refusal is
 * injected: a Sql wrapper fails statements naming a marker, as PostgreSQL would.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SqlError, type Sql } from "../../src/core/ports/sql.js";
import { createApp } from "../../src/http/app.js";
import { startOriginRegistry, TEST_HOST, type OriginFixture } from "../support/origin-registry.js";

let origin: OriginFixture;
let app: ReturnType<typeof createApp>;

/** Fails every statement while `refusing` is set, with PostgreSQL's "value too long" error. */
function refusingSql(sql: Sql, state: { refusing: boolean }): Sql {
  const refuse = () => new SqlError("value too long for type character varying(255)", "22001");
  return {
    query: (text, params) => (state.refusing ? Promise.reject(refuse()) : sql.query(text, params)),
    transaction: (fn) => (state.refusing ? Promise.reject(refuse()) : sql.transaction(fn)),
    close: () => sql.close(),
  };
}

const state = { refusing: false };

beforeAll(async () => {
  origin = await startOriginRegistry("rejected");
  app = createApp({ ...origin.registry, sql: refusingSql(origin.registry.sql, state) });
}, 60_000);
afterAll(() => origin?.close());

describe("a value the database refuses", () => {
  it("is 400 INVALID_REQUEST on /v2", async () => {
    const token = await origin.token("someone", { "acme/app": ["pull"] });
    state.refusing = true;
    try {
      const response = await app.request(`https://${TEST_HOST}/v2/acme/app/tags/list`, { headers: { authorization: `Bearer ${token}` } });
      expect(response.status).toBe(400);
      expect(((await response.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe("INVALID_REQUEST");
    } finally {
      state.refusing = false;
    }
  });

  it("is Quay's 400 invalid_request on /api/v1", async () => {
    state.refusing = true;
    try {
      const response = await app.request(`https://${TEST_HOST}/api/v1/repository?public=true`);
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error_type: string }).error_type).toBe("invalid_request");
    } finally {
      state.refusing = false;
    }
  });
});
