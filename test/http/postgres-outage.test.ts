/**
 * Warm pulls without PostgreSQL (stale-if-error): with a fault proxy in front of the real
 * PostgreSQL, answers cached in Redis or isolate memory keep being served — public
 * content, and private content for a caller whose token verified before — long past
 * their freshness; only reads that need the database answer 503 UNAVAILABLE.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MediaType } from "../../src/core/model/media-types.js";
import { serviceKeys } from "../../src/core/auth/service-keys.js";
import { createApp } from "../../src/http/app.js";
import { countingSql } from "../support/counting.js";
import { fakeClock } from "../support/fake-clock.js";
import type { FaultProxy } from "../support/fault-proxy.js";
import { startOriginRegistry, TEST_HOST, type OriginFixture } from "../support/origin-registry.js";
import { seedPullFixture, type PullFixture } from "../support/pull-fixture.js";

const ACCEPT = Object.values(MediaType).join(", ");
const clock = fakeClock(Date.now());
let postgres: FaultProxy;
let origin: OriginFixture;
let fx: PullFixture;

function request(app: ReturnType<typeof createApp>, path: string, init: { method?: string; token?: string } = {}): Promise<Response> {
  const headers: Record<string, string> = { accept: ACCEPT };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  return Promise.resolve(app.request(`https://${TEST_HOST}${path}`, { method: init.method ?? "GET", headers }));
}

async function errorCode(response: Response): Promise<string> {
  return ((await response.json()) as { errors: { code: string }[] }).errors[0]!.code;
}

beforeAll(async () => {
  origin = await startOriginRegistry("pgout", clock, { faultProxies: true });
  postgres = origin.faults!.database;
  fx = await seedPullFixture({ sql: origin.direct, blobs: origin.registry.blobs }, clock.now());
}, 60_000);
afterAll(async () => {
  postgres?.pass();
  await origin?.close();
});

describe("PostgreSQL down", () => {
  it("serves warm public manifests and blobs from cache, past their freshness; cold reads and listings answer 503", async () => {
    const warm = createApp(origin.registry);
    const paths = [
      `/v2/${fx.app}/manifests/v1`,
      `/v2/${fx.app}/manifests/${fx.docker.manifest.digest}`,
      `/v2/${fx.app}/blobs/${fx.oci.layers[0]!.digest}`,
    ];
    const before = [];
    for (const path of paths) before.push(await request(warm, path));
    expect(before.map((r) => r.status)).toEqual([200, 200, 302]);

    postgres.down();
    try {
      // This isolate's memory, then another isolate (Redis), then long past the max age.
      for (const app of [warm, createApp(origin.registry), null]) {
        if (app === null) clock.advance(10 * 60_000);
        const reader = app ?? createApp(origin.registry);
        const tag = await request(reader, paths[0]!);
        expect(tag.status).toBe(200);
        expect(await tag.text()).toBe(fx.oci.manifest.text);
        const byDigest = await request(reader, paths[1]!, { method: "HEAD" });
        expect(byDigest.status).toBe(200);
        expect(byDigest.headers.get("docker-content-digest")).toBe(fx.docker.manifest.digest);
        const blob = await request(reader, paths[2]!, { method: "HEAD" });
        expect(blob.status).toBe(200);
        expect(blob.headers.get("content-length")).toBe(String(fx.oci.layers[0]!.size));
        expect((await request(reader, paths[2]!)).status).toBe(302);
      }

      const cold = await request(createApp(origin.registry), `/v2/${fx.app}/manifests/never-pulled`);
      expect(cold.status).toBe(503);
      expect(await errorCode(cold)).toBe("UNAVAILABLE");
      const listing = await request(createApp(origin.registry), `/v2/${fx.app}/tags/list`);
      expect(listing.status).toBe(503);
      expect(await errorCode(listing)).toBe("UNAVAILABLE");
    } finally {
      postgres.pass();
    }
  });

  it("after a failed database read, serves stale answers without asking the database again for the cooldown", async () => {
    const sql = countingSql(origin.registry.sql);
    const app = createApp({ ...origin.registry, sql: sql.target });
    const paths = [`/v2/${fx.app}/manifests/docker`, `/v2/${fx.app}/manifests/multi`, `/v2/${fx.app}/manifests/dlist`];
    for (const path of paths) expect((await request(app, path)).status).toBe(200);
    postgres.down();
    try {
      clock.advance(10 * 60_000);
      const reader = createApp({ ...origin.registry, sql: sql.target });
      sql.reset();
      for (const path of paths) expect((await request(reader, path)).status).toBe(200);
      expect(sql.count()).toBe(1);
    } finally {
      postgres.pass();
    }
  });

  it("serves cached private content to a caller whose token verified before, asking for the key once per miss period", async () => {
    const sql = countingSql(origin.registry.sql);
    const registry = { ...origin.registry, sql: sql.target, keys: serviceKeys({ sql: sql.target, clock }) };
    const token = await origin.token("reader", { [fx.secret]: ["pull"] });
    expect((await request(createApp(registry), `/v2/${fx.secret}/manifests/v1`, { token })).status).toBe(200);

    postgres.down();
    try {
      clock.advance(5 * 60_000);
      const reader = createApp(registry);
      sql.reset();
      const response = await request(reader, `/v2/${fx.secret}/manifests/v1`, { token });
      expect(response.status).toBe(200);
      expect(response.headers.get("docker-content-digest")).toMatch(/^sha256:/);
      expect(sql.count()).toBe(2); // the key and the manifest, each tried once
      sql.reset();
      expect((await request(reader, `/v2/${fx.secret}/manifests/v1`, { token })).status).toBe(200);
      expect(sql.count()).toBe(0);
      // Without the token the private repository stays closed.
      const anonymous = await request(reader, `/v2/${fx.secret}/manifests/v1`);
      expect(anonymous.status).toBe(401);
      expect(await errorCode(anonymous)).toBe("UNAUTHORIZED");
    } finally {
      postgres.pass();
    }
  });

  it("issues anonymous tokens without grants: they read cached public content, not private content", async () => {
    const app = createApp(origin.registry);
    const anonymousToken = async () => {
      const auth = await app.request(
        `https://${TEST_HOST}/v2/auth?service=${TEST_HOST}&scope=repository:${fx.app}:pull&scope=repository:${fx.secret}:pull`,
      );
      expect(auth.status).toBe(200);
      return ((await auth.json()) as { token: string }).token;
    };
    // What a client does before the outage: an anonymous token, then the pull with it.
    expect((await request(app, `/v2/${fx.app}/manifests/v1`, { token: await anonymousToken() })).status).toBe(200);
    postgres.down();
    try {
      const token = await anonymousToken();
      const claims = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()) as { sub: string; access: unknown[] };
      expect(claims).toMatchObject({ sub: "(anonymous)", access: [] });
      const reader = createApp(origin.registry);
      const pulled = await request(reader, `/v2/${fx.app}/manifests/v1`, { token });
      expect(pulled.status).toBe(200);
      expect(await pulled.text()).toBe(fx.oci.manifest.text);
      expect((await request(reader, `/v2/${fx.secret}/manifests/v1`, { token })).status).toBe(401);
      // Credentials need the database.
      const basic = await app.request(`https://${TEST_HOST}/v2/auth?scope=repository:${fx.app}:pull`, {
        headers: { authorization: `Basic ${btoa("someone:password")}` },
      });
      expect(basic.status).toBe(503);
    } finally {
      postgres.pass();
    }
  });

  it("still honours a key's revocation once the database answers again", async () => {
    const token = await origin.token("reader", { [fx.secret]: ["pull"] });
    const app = createApp(origin.registry);
    expect((await request(app, `/v2/${fx.secret}/manifests/v1`, { token })).status).toBe(200);
    const kid = origin.registry.signingKey!.kid;
    await origin.direct.query(`UPDATE servicekey SET approval_id = NULL WHERE kid = $1`, [kid]);
    try {
      clock.advance(5 * 60_000);
      const refused = await request(app, `/v2/${fx.secret}/manifests/v1`, { token });
      expect(refused.status).toBe(401);
    } finally {
      await origin.direct.query(`UPDATE servicekey SET approval_id = (SELECT max(id) FROM servicekeyapproval) WHERE kid = $1`, [kid]);
    }
  });

  it("does not trust a remembered key past the expiry it had: 503 while the database is down", async () => {
    clock.advance(60_000); // past the previous test's remembered revocation
    const token = await origin.token("reader", { [fx.secret]: ["pull"] });
    const app = createApp(origin.registry);
    expect((await request(app, `/v2/${fx.secret}/manifests/v1`, { token })).status).toBe(200);
    const { rows } = await origin.direct.query<{ expiration_date: Date }>(`SELECT expiration_date FROM servicekey WHERE kid = $1`, [
      origin.registry.signingKey!.kid,
    ]);
    postgres.down();
    try {
      clock.set(rows[0]!.expiration_date.getTime() + 1);
      const response = await request(app, `/v2/${fx.secret}/manifests/v1`, { token });
      expect(response.status).toBe(503);
      expect(await errorCode(response)).toBe("UNAVAILABLE");
    } finally {
      postgres.pass();
    }
  });
});
