/**
 * The auto-prune jobs against PostgreSQL and Redis, on a fake clock: every rule of
 * Quay's AutoPruneWorker (task claim and interval, task removal, policy order, candidate
 * filters, patterns, each duration unit, audit entries, failure status), the tag budget,
 * concurrent runners, dry runs and the registry-wide default policy.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { redisCache } from "../../src/adapters/cache/redis.js";
import { nodePostgresSql } from "../../src/adapters/sql/node-postgres.js";
import { guardedUpstream } from "../../src/adapters/upstream/guarded-fetch.js";
import { serviceKeys } from "../../src/core/auth/service-keys.js";
import { pythonJson } from "../../src/core/audit.js";
import { loadRegistryConfig, type ConfigSource } from "../../src/core/config.js";
import { runAutoPrune, runDefaultAutoPrune, AUTOPRUNE_DEFAULTS, DEFAULT_PRUNE_DEFAULTS } from "../../src/core/jobs/autoprune.js";
import type { JobContext } from "../../src/core/jobs/scheduler.js";
import { MediaType } from "../../src/core/model/media-types.js";
import type { BlobStore } from "../../src/core/ports/blob-store.js";
import type { Cache } from "../../src/core/ports/cache.js";
import type { Sql } from "../../src/core/ports/sql.js";
import type { Registry } from "../../src/core/registry.js";
import { generationKey } from "../../src/core/resources/pull-cache.js";
import { migrate } from "../../src/db/migrate.js";
import { ensureTask, insertPolicy } from "../../src/db/queries/autoprune.js";
import { fakeClock, type FakeClock } from "../support/fake-clock.js";
import { createNamespace, createRepository, storeManifest, tagManifest, unique } from "../support/quay-seed.js";
import { createTestDatabase, REDIS_URL, type TestDatabase } from "../support/services.js";
import { nodeStreamHashing } from "../../src/adapters/hashing/node.js";

/** A real (not dry) run that reports nowhere. */
const scheduledContext: JobContext = { dryRun: false, report: () => {}, reclaimed: () => {} };

const MINUTE = 60_000;
const DAY = 86_400_000;
const COSIGN = `sha256-${"c".repeat(64)}.sig`;

let db: TestDatabase;
let sql: Sql;
let cache: Cache;
let clock: FakeClock;

/** Pruning never touches blob storage. */
const noStorage = new Proxy({} as BlobStore, {
  get: (_, method) => () => Promise.reject(new Error(`unexpected BlobStore.${String(method)}`)),
});

function registry(env: ConfigSource = {}): Registry {
  const config = loadRegistryConfig({ PIER_AUTO_PRUNE: "true", ...env });
  return {
    config,
    sql,
    cache,
    blobs: noStorage,
    signer: null,
    clock,
    keys: serviceKeys({ sql, clock }),
    signingKey: null,
    upstream: guardedUpstream({ policy: { allowedHosts: [] } }),
    hashing: null,
    streamHashing: nodeStreamHashing,
  };
}

interface Seeded {
  namespace: string;
  namespaceId: number;
  repo: string;
  repoId: number;
  manifestId: number;
}

async function seed(options: { organization?: boolean; state?: number } = {}): Promise<Seeded> {
  const namespace = unique("ns");
  const namespaceId = await createNamespace({ sql, blobs: noStorage }, namespace, { organization: options.organization ?? true });
  const repoId = await createRepository({ sql, blobs: noStorage }, namespaceId, "app", { state: options.state ?? 0 });
  const text = JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociManifest, config: {}, layers: [], n: unique("m") });
  const manifest = await storeManifest({ sql, blobs: noStorage }, repoId, text, MediaType.ociManifest);
  return { namespace, namespaceId, repo: "app", repoId, manifestId: manifest.id };
}

async function tag(s: Seeded, name: string, ageMs: number, options: { hidden?: boolean; immutable?: boolean } = {}): Promise<void> {
  const id = await tagManifest({ sql, blobs: noStorage }, s.repoId, name, s.manifestId, {
    startMs: clock.now() - ageMs,
    hidden: options.hidden,
  });
  if (options.immutable) await sql.query(`UPDATE tag SET immutable = true WHERE id = $1`, [id]);
}

async function policy(s: Seeded, config: Record<string, unknown>, scope: "namespace" | "repository" = "namespace"): Promise<void> {
  const full = { tag_pattern: null, tag_pattern_matches: true, ...config };
  const target =
    scope === "namespace"
      ? ({ kind: "namespace", namespaceId: s.namespaceId } as const)
      : ({ kind: "repository", namespaceId: s.namespaceId, repositoryId: s.repoId } as const);
  await insertPolicy(sql, target, crypto.randomUUID(), pythonJson(full));
  await ensureTask(sql, s.namespaceId);
}

async function alive(s: Seeded): Promise<string[]> {
  const { rows } = await sql.query<{ name: string }>(
    `SELECT name FROM tag WHERE repository_id = $1 AND (lifetime_end_ms IS NULL OR lifetime_end_ms > $2) ORDER BY name`,
    [s.repoId, clock.now()],
  );
  return rows.map((r) => r.name);
}

async function pruneAudits(s: Seeded) {
  const { rows } = await sql.query<{ performer_id: number | null; repository_id: number; metadata_json: string; datetime: Date }>(
    `SELECT l.performer_id, l.repository_id, l.metadata_json, l.datetime FROM logentry3 l JOIN logentrykind k ON k.id = l.kind_id
     WHERE k.name = 'autoprune_tag_delete' AND l.account_id = $1 ORDER BY l.id`,
    [s.namespaceId],
  );
  return rows;
}

const prunedTags = async (s: Seeded) => (await pruneAudits(s)).map((r) => (JSON.parse(r.metadata_json) as { tag: string }).tag);

async function taskOf(s: Seeded): Promise<{ status: string | null; last_ran_ms: string | null } | undefined> {
  const { rows } = await sql.query<{ status: string | null; last_ran_ms: string | null }>(
    `SELECT status, last_ran_ms::text FROM autoprunetaskstatus WHERE namespace_id = $1`,
    [s.namespaceId],
  );
  return rows[0];
}

beforeAll(async () => {
  db = await createTestDatabase("autoprune");
  sql = nodePostgresSql(db.url);
  await migrate(sql);
  cache = redisCache({ url: REDIS_URL });
});
afterAll(async () => {
  await cache?.close();
  await sql?.close();
  await db?.drop();
});
beforeEach(async () => {
  clock = fakeClock(Date.UTC(2026, 2, 1));
  // Tasks are registry-wide: each test sees only its own.
  await sql.query(`DELETE FROM autoprunetaskstatus`);
});

describe("autoprune job: number_of_tags", () => {
  it("keeps the newest N alive tags, ends the rest at now, audits each and records success", async () => {
    const s = await seed();
    for (const [i, name] of ["t1", "t2", "t3", "t4", "t5"].entries()) await tag(s, name, (5 - i) * 1000);
    await policy(s, { method: "number_of_tags", value: 2 });
    await cache.set(generationKey(`${s.namespace}/app`), "before", 60);

    expect(await runAutoPrune(registry(), scheduledContext)).toBe(1);

    expect(await alive(s)).toEqual(["t4", "t5"]);
    const { rows } = await sql.query<{ name: string; end: string }>(
      `SELECT name, lifetime_end_ms::text AS end FROM tag WHERE repository_id = $1 AND lifetime_end_ms IS NOT NULL ORDER BY name`,
      [s.repoId],
    );
    expect(rows.map((r) => r.name)).toEqual(["t1", "t2", "t3"]);
    for (const row of rows) expect(Number(row.end)).toBeGreaterThanOrEqual(clock.now());
    const audits = await pruneAudits(s);
    expect(audits.map((a) => a.metadata_json)).toEqual(
      ["t1", "t2", "t3"].map((t) => `{"performer": "autoprune worker", "namespace": "${s.namespace}", "repo": "app", "tag": "${t}"}`),
    );
    expect(audits.every((a) => a.performer_id === null && a.repository_id === s.repoId)).toBe(true);
    expect(await taskOf(s)).toEqual({ status: "success", last_ran_ms: String(clock.now()) });
    // The pull cache of the repository moved on.
    expect(await cache.get(generationKey(`${s.namespace}/app`))).not.toBe("before");
  });

  it("counts only tags matching the pattern (PostgreSQL ~, unanchored, case-sensitive)", async () => {
    const s = await seed();
    for (const [i, name] of ["v1", "v2", "xv3", "V4", "latest"].entries()) await tag(s, name, (5 - i) * 1000);
    await policy(s, { method: "number_of_tags", value: 1, tag_pattern: "v\\d" });
    await runAutoPrune(registry(), scheduledContext);
    expect(await alive(s)).toEqual(["V4", "latest", "xv3"]);
  });

  it("with tag_pattern_matches false counts only tags not matching", async () => {
    const s = await seed();
    for (const [i, name] of ["dev1", "v1", "dev2", "v2", "dev3"].entries()) await tag(s, name, (5 - i) * 1000);
    await policy(s, { method: "number_of_tags", value: 1, tag_pattern: "^v", tag_pattern_matches: false });
    await runAutoPrune(registry(), scheduledContext);
    expect(await alive(s)).toEqual(["dev3", "v1", "v2"]);
  });

  it("never prunes immutable, Cosign or hidden tags, nor counts them, nor touches expired ones", async () => {
    const s = await seed();
    await tag(s, "latest", 1000);
    await tag(s, "frozen", 2000, { immutable: true });
    await tag(s, COSIGN, 3000);
    await tag(s, "$temp-1", 4000, { hidden: true });
    await tag(s, "old", 5000);
    await tagManifest({ sql, blobs: noStorage }, s.repoId, "gone", s.manifestId, {
      startMs: clock.now() - 9000,
      endMs: clock.now() - 8000,
    });
    await policy(s, { method: "number_of_tags", value: 1 });
    await runAutoPrune(registry(), scheduledContext);
    expect(await alive(s)).toEqual(["$temp-1", "frozen", "latest", COSIGN].sort());
    expect(await prunedTags(s)).toEqual(["old"]);
  });
});

describe("autoprune job: creation_date", () => {
  it.each([
    ["s", 1000],
    ["m", MINUTE],
    ["h", 60 * MINUTE],
    ["d", DAY],
    ["w", 7 * DAY],
    ["y", 365 * DAY],
  ])("prunes tags older than 2%s (repository policy only)", async (unit, ms) => {
    const s = await seed();
    await tag(s, "older", 2 * ms + 500);
    await tag(s, "younger", 2 * ms - 500);
    await policy(s, { method: "creation_date", value: `2${unit}` }, "repository");
    await runAutoPrune(registry(), scheduledContext);
    expect(await alive(s)).toEqual(["younger"]);
  });

  it("applies a pattern to the age filter", async () => {
    const s = await seed();
    await tag(s, "pr-1", 3 * DAY);
    await tag(s, "release-1", 3 * DAY);
    await policy(s, { method: "creation_date", value: "1d", tag_pattern: "^pr-" });
    await runAutoPrune(registry(), scheduledContext);
    expect(await alive(s)).toEqual(["release-1"]);
  });

  it("runs before number_of_tags, with namespace and repository policies together", async () => {
    const s = await seed();
    await tag(s, "x", 5 * DAY);
    await tag(s, "c", 3000);
    await tag(s, "b", 2000);
    await tag(s, "a", 1000);
    await policy(s, { method: "number_of_tags", value: 2 });
    await policy(s, { method: "creation_date", value: "1d" }, "repository");
    await runAutoPrune(registry(), scheduledContext);
    expect(await prunedTags(s)).toEqual(["x", "c"]);
    expect(await alive(s)).toEqual(["a", "b"]);
  });
});

describe("autoprune job: tasks", () => {
  it("honours the 60-minute minimum interval", async () => {
    const s = await seed();
    await policy(s, { method: "number_of_tags", value: 1 });
    await tag(s, "first", 1000);
    expect(await runAutoPrune(registry(), scheduledContext)).toBe(1);
    await tag(s, "second", 0);
    clock.advance(60 * MINUTE);
    // last_ran_ms < now − 60 min is required: exactly 60 minutes is not enough.
    expect(await runAutoPrune(registry(), scheduledContext)).toBe(0);
    expect(await alive(s)).toEqual(["first", "second"]);
    clock.advance(1);
    expect(await runAutoPrune(registry(), scheduledContext)).toBe(1);
    expect(await alive(s)).toEqual(["second"]);
    expect(await taskOf(s)).toEqual({ status: "success", last_ran_ms: String(clock.now()) });
  });

  it("deletes the task of a namespace without policies", async () => {
    const s = await seed();
    await tag(s, "keep", 1000);
    await ensureTask(sql, s.namespaceId);
    expect(await runAutoPrune(registry(), scheduledContext)).toBe(1);
    expect(await taskOf(s)).toBeUndefined();
    expect(await alive(s)).toEqual(["keep"]);
  });

  it("records failure with the error when a stored pattern cannot be compiled", async () => {
    const s = await seed();
    await tag(s, "a", 1000);
    await tag(s, "b", 2000);
    // Quay stores patterns unchecked; a row written by Quay may hold one PostgreSQL refuses.
    await policy(s, { method: "number_of_tags", value: 1, tag_pattern: "a(" });
    expect(await runAutoPrune(registry(), scheduledContext)).toBe(1);
    const task = await taskOf(s);
    expect(task?.status).toMatch(/^failure: .*regular expression/);
    expect(await alive(s)).toEqual(["a", "b"]);
  });

  it("skips disabled namespaces and repositories not in state NORMAL", async () => {
    const disabled = await seed();
    await tag(disabled, "a", 2000);
    await tag(disabled, "b", 1000);
    await policy(disabled, { method: "number_of_tags", value: 1 });
    await sql.query(`UPDATE "user" SET enabled = false WHERE id = $1`, [disabled.namespaceId]);
    const readOnly = await seed({ state: 1 });
    await tag(readOnly, "a", 2000);
    await tag(readOnly, "b", 1000);
    await policy(readOnly, { method: "number_of_tags", value: 1 });
    expect(await runAutoPrune(registry(), scheduledContext)).toBe(1);
    expect(await alive(disabled)).toEqual(["a", "b"]);
    expect(await alive(readOnly)).toEqual(["a", "b"]);
    expect(await taskOf(disabled)).toEqual({ status: "queued", last_ran_ms: null });
    expect(await taskOf(readOnly)).toMatchObject({ status: "success" });
  });

  it("stops at the tag budget and queues the task again for the next run", async () => {
    const s = await seed();
    for (const [i, name] of ["a", "b", "c", "d", "e"].entries()) await tag(s, name, (5 - i) * 1000);
    await policy(s, { method: "number_of_tags", value: 1 });
    const options = { ...AUTOPRUNE_DEFAULTS, maxTags: 2 };
    await runAutoPrune(registry(), scheduledContext, options);
    expect((await alive(s)).length).toBe(3);
    expect(await taskOf(s)).toEqual({ status: "queued", last_ran_ms: null });
    await runAutoPrune(registry(), scheduledContext, options);
    await runAutoPrune(registry(), scheduledContext, options);
    expect(await alive(s)).toEqual(["e"]);
    expect(await taskOf(s)).toMatchObject({ status: "success" });
  });

  it("lets concurrent runners split the tasks: each tag is pruned and audited once", async () => {
    const namespaces: Seeded[] = [];
    for (let n = 0; n < 4; n++) {
      const s = await seed();
      for (const [i, name] of ["a", "b", "c"].entries()) await tag(s, name, (3 - i) * 1000);
      await policy(s, { method: "number_of_tags", value: 1 });
      namespaces.push(s);
    }
    const ran = await Promise.all([0, 1, 2].map(() => runAutoPrune(registry(), scheduledContext)));
    expect(ran.reduce((a, b) => a + b, 0)).toBe(4);
    for (const s of namespaces) {
      expect(await alive(s)).toEqual(["c"]);
      expect((await prunedTags(s)).sort()).toEqual(["a", "b"]);
    }
  });

  it("in a dry run reports what would go and changes nothing", async () => {
    const s = await seed();
    for (const [i, name] of ["a", "b", "c", "d"].entries()) await tag(s, name, (4 - i) * DAY);
    await policy(s, { method: "creation_date", value: "3d" });
    await policy(s, { method: "number_of_tags", value: 2 });
    const lines: string[] = [];
    const context: JobContext = { dryRun: true, report: (line) => lines.push(line), reclaimed: () => {} };
    expect(await runAutoPrune(registry(), context)).toBe(1);
    // "a" goes by age; "b" by count (c and d are the two newest once "a" is gone).
    expect(lines).toEqual([`${s.namespace}/app:a`, `${s.namespace}/app:b`]);
    expect(await alive(s)).toEqual(["a", "b", "c", "d"]);
    expect(await pruneAudits(s)).toEqual([]);
    expect(await taskOf(s)).toEqual({ status: "queued", last_ran_ms: null });
  });
});

describe("autoprune-default job", () => {
  const KEYS = ["pier:autoprune-default:cursor", "pier:autoprune-default:done", "pier:autoprune-default:lock"];
  beforeEach(() => cache.delete(KEYS));

  it("applies the default policy to every enabled namespace, a page per run, once per period", async () => {
    const env = { PIER_DEFAULT_NAMESPACE_AUTOPRUNE_POLICY: '{"method": "number_of_tags", "value": 1}' };
    const seeded: Seeded[] = [];
    for (let n = 0; n < 3; n++) {
      const s = await seed({ organization: n % 2 === 0 });
      await tag(s, "old", 2000);
      await tag(s, "new", 1000);
      seeded.push(s);
    }
    const { rows } = await sql.query<{ n: string }>(`SELECT count(*)::text AS n FROM "user" WHERE enabled AND NOT robot`);
    const total = Number(rows[0]!.n);
    const options = { ...DEFAULT_PRUNE_DEFAULTS, namespaces: 2 };
    let visited = 0;
    for (let run = 0; run < 100; run++) {
      const page = await runDefaultAutoPrune(registry(env), scheduledContext, options);
      if (page === 0) break;
      visited += page;
    }
    expect(visited).toBe(total);
    for (const s of seeded) expect(await alive(s)).toEqual(["new"]);
    // The pass is done for the period: no task rows are involved.
    expect(await runDefaultAutoPrune(registry(env), scheduledContext, options)).toBe(0);
    expect(await cache.get("pier:autoprune-default:done")).not.toBeNull();
  });

  it("does nothing without a default policy, and a dry run moves no cursor", async () => {
    expect(await runDefaultAutoPrune(registry(), scheduledContext)).toBe(0);
    const s = await seed();
    await tag(s, "old", 2000);
    await tag(s, "new", 1000);
    const env = { PIER_DEFAULT_NAMESPACE_AUTOPRUNE_POLICY: '{"method": "creation_date", "value": "1s"}' };
    const lines: string[] = [];
    const context: JobContext = { dryRun: true, report: (line) => lines.push(line), reclaimed: () => {} };
    const options = { ...DEFAULT_PRUNE_DEFAULTS, namespaces: 10_000 };
    expect(await runDefaultAutoPrune(registry(env), context, options)).toBeGreaterThan(0);
    expect(lines).toContain(`${s.namespace}/app:old`);
    expect(lines).not.toContain(`${s.namespace}/app:new`);
    expect(await alive(s)).toEqual(["new", "old"]);
    for (const key of KEYS) expect(await cache.get(key)).toBeNull();
  });
});
