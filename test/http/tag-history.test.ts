/**
 * Tag history under contention, on real PostgreSQL through the origin's app: whatever
 * the interleaving of pushes and deletes to one tag name, and even when the clock steps
 * back, the name has at most one alive row, no row ends before it starts, rows never
 * overlap, and pulls serve the last committed write.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MediaType } from "../../src/core/model/media-types.js";
import type { Clock } from "../../src/core/ports/clock.js";
import { startPushScene, type PushScene } from "../support/origin-registry.js";

const sha256 = (bytes: string) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

/**
 * The wall clock shifted by an offset the tests move (backwards, to model a clock step);
 * or stopped at `frozenAt`, and then when `ticking` moving 1 ms per read.
 */
let offsetMs = 0;
let frozenAt: number | null = null;
let ticking = false;
const shiftedClock: Clock = {
  now: () => (frozenAt === null ? Date.now() + offsetMs : ticking ? frozenAt++ : frozenAt),
};

let scene: PushScene;
let blobs: { config: object; layer: object };

async function blob(content: string, mediaType: string) {
  const digest = sha256(content);
  const response = await scene.call("POST", `/v2/${scene.repo}/blobs/uploads/?digest=${digest}`, { body: content });
  expect(response.status).toBe(201);
  return { mediaType, digest, size: Buffer.byteLength(content) };
}

/** A distinct manifest over the shared blobs (the annotation changes its digest). */
function manifest(seed: string) {
  const text = JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    ...blobs,
    annotations: { seed },
  });
  return { text, digest: sha256(text) };
}

function put(tag: string, text: string) {
  return scene.call("PUT", `/v2/${scene.repo}/manifests/${tag}`, { body: text, headers: { "content-type": MediaType.ociManifest } });
}

/** Counts of invariant breaches for one tag name, in one query. */
async function breaches(tag: string) {
  const { rows } = await scene.origin.registry.sql.query<{ alive: number; backwards: number; overlapping: number; total: number }>(
    `WITH t AS (SELECT * FROM tag WHERE repository_id = $1 AND name = $2)
     SELECT (SELECT count(*)::int FROM t WHERE lifetime_end_ms IS NULL OR lifetime_end_ms > $3) AS alive,
            (SELECT count(*)::int FROM t WHERE lifetime_end_ms < lifetime_start_ms) AS backwards,
            (SELECT count(*)::int FROM t a JOIN t b ON a.id < b.id
             WHERE a.lifetime_start_ms < COALESCE(b.lifetime_end_ms, 9223372036854775807)
               AND b.lifetime_start_ms < COALESCE(a.lifetime_end_ms, 9223372036854775807)) AS overlapping,
            (SELECT count(*)::int FROM t) AS total`,
    [scene.repoId, tag, shiftedClock.now()],
  );
  return rows[0]!;
}

/** The digest of the row that started last, and whether it is still alive. */
async function lastWrite(tag: string) {
  const { rows } = await scene.origin.registry.sql.query<{ digest: string; alive: boolean }>(
    `SELECT m.digest, (t.lifetime_end_ms IS NULL OR t.lifetime_end_ms > $3) AS alive
     FROM tag t JOIN manifest m ON m.id = t.manifest_id WHERE t.repository_id = $1 AND t.name = $2
     ORDER BY t.lifetime_start_ms DESC, t.id DESC LIMIT 1`,
    [scene.repoId, tag, shiftedClock.now()],
  );
  return rows[0]!;
}

/** Holds the tag's advisory lock from another connection until `release()`. */
async function holdTagLock(tag: string): Promise<{ release(): Promise<void> }> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let locked!: () => void;
  const held = new Promise<void>((resolve) => (locked = resolve));
  const holder = scene.origin.registry.sql.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock($1, hashtext($2))`, [scene.repoId, tag]);
    locked();
    await released;
  });
  await held;
  return {
    async release() {
      release();
      await holder;
    },
  };
}

async function waitersOnAdvisoryLocks(): Promise<number> {
  const { rows } = await scene.origin.registry.sql.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_locks
     WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
  );
  return rows[0]!.n;
}

async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  scene = await startPushScene("taghist", { clock: shiftedClock });
  blobs = {
    config: await blob(JSON.stringify({ architecture: "amd64", os: "linux" }), "application/vnd.oci.image.config.v1+json"),
    layer: await blob("the one layer", "application/vnd.oci.image.layer.v1.tar+gzip"),
  };
}, 60_000);
afterAll(() => scene?.origin.close());

describe("tag history under contention", () => {
  it("keeps one alive row when PUTs queue on the tag's lock, and a DELETE then 404s the tag", async () => {
    offsetMs = 0;
    expect((await put("queued", manifest("queued-0").text)).status).toBe(201);

    const lock = await holdTagLock("queued");

    // Each PUT reads the clock later but sees an earlier time, should it read it before the lock.
    const pushes: Promise<Response>[] = [];
    for (let i = 1; i <= 3; i++) {
      offsetMs = -i * 50;
      pushes.push(put("queued", manifest(`queued-${i}`).text));
      await until(async () => (await waitersOnAdvisoryLocks()) === i, `${i} queued PUTs`);
    }
    offsetMs = 0; // the clock is right again by the time the PUTs hold the lock
    await lock.release();
    expect((await Promise.all(pushes)).map((r) => r.status)).toEqual([201, 201, 201]);

    expect(await breaches("queued")).toEqual({ alive: 1, backwards: 0, overlapping: 0, total: 4 });
    const served = await scene.call("GET", `/v2/${scene.repo}/manifests/queued`, { headers: { accept: MediaType.ociManifest } });
    expect(served.headers.get("docker-content-digest")).toBe((await lastWrite("queued")).digest);

    expect((await scene.call("DELETE", `/v2/${scene.repo}/manifests/queued`)).status).toBe(202);
    expect((await scene.call("GET", `/v2/${scene.repo}/manifests/queued`)).status).toBe(404);
    expect(await breaches("queued")).toMatchObject({ alive: 0, backwards: 0, overlapping: 0 });
  });

  it("never moves history backwards when the clock steps back between writes, for tag and digest deletes too", async () => {
    offsetMs = 0;
    const first = manifest("step-1");
    const second = manifest("step-2");
    expect((await put("step", first.text)).status).toBe(201);
    offsetMs = -5_000;
    expect((await put("step", second.text)).status).toBe(201);
    expect((await scene.call("GET", `/v2/${scene.repo}/manifests/step`)).headers.get("docker-content-digest")).toBe(second.digest);
    offsetMs = -10_000;
    expect((await scene.call("DELETE", `/v2/${scene.repo}/manifests/${second.digest}`)).status).toBe(202);
    expect((await scene.call("GET", `/v2/${scene.repo}/manifests/step`)).status).toBe(404);
    expect((await put("step", first.text)).status).toBe(201);
    offsetMs = -15_000;
    expect((await scene.call("DELETE", `/v2/${scene.repo}/manifests/step`)).status).toBe(202);
    expect((await scene.call("GET", `/v2/${scene.repo}/manifests/step`)).status).toBe(404);
    offsetMs = 0;
    expect(await breaches("step")).toMatchObject({ alive: 0, backwards: 0, overlapping: 0 });
  });

  it("keeps the invariants when the clock stands still across pushes and a delete", async () => {
    frozenAt = Date.now();
    expect((await put("stuck", manifest("stuck-1").text)).status).toBe(201);
    expect((await put("stuck", manifest("stuck-2").text)).status).toBe(201);
    expect((await scene.call("GET", `/v2/${scene.repo}/manifests/stuck`)).headers.get("docker-content-digest")).toBe(
      manifest("stuck-2").digest,
    );
    expect((await scene.call("DELETE", `/v2/${scene.repo}/manifests/stuck`)).status).toBe(202);
    expect((await scene.call("GET", `/v2/${scene.repo}/manifests/stuck`)).status).toBe(404);
    expect(await breaches("stuck")).toMatchObject({ alive: 0, backwards: 0, overlapping: 0 });
    frozenAt = null;
  });

  it("a delete in the pushed row's own millisecond waits for the next one, so the row stays in history", async () => {
    frozenAt = Date.now();
    const pushed = manifest("same-ms");
    expect((await put("same-ms", pushed.text)).status).toBe(201);
    const { release } = await holdTagLock("same-ms");
    const deletion = scene.call("DELETE", `/v2/${scene.repo}/manifests/same-ms`);
    await until(async () => (await waitersOnAdvisoryLocks()) === 1, "the queued DELETE");
    ticking = true; // from here on, only the delete reads the clock
    await release();
    expect((await deletion).status).toBe(202);
    ticking = false;
    frozenAt = null;
    const { rows } = await scene.origin.registry.sql.query<{ span: string }>(
      `SELECT (lifetime_end_ms - lifetime_start_ms)::text AS span FROM tag WHERE repository_id = $1 AND name = 'same-ms'`,
      [scene.repoId],
    );
    expect(rows).toHaveLength(1);
    expect(Number(rows[0]!.span)).toBeGreaterThan(0);
    expect((await scene.call("GET", `/v2/${scene.repo}/manifests/same-ms`)).status).toBe(404);
  });

  it("a digest delete racing a push that moves the tag leaves the moved tag alone", async () => {
    offsetMs = 0;
    const old = manifest("race-old");
    const moved = manifest("race-new");
    expect((await put("race", old.text)).status).toBe(201);

    const lock = await holdTagLock("race");
    const push = put("race", moved.text);
    await until(async () => (await waitersOnAdvisoryLocks()) === 1, "the queued PUT");
    const deletion = scene.call("DELETE", `/v2/${scene.repo}/manifests/${old.digest}`);
    await until(async () => (await waitersOnAdvisoryLocks()) === 2, "the queued DELETE");
    await lock.release();
    expect((await push).status).toBe(201);
    // The delete found the tag on the old manifest; once it runs, the tag has moved.
    expect([202, 404]).toContain((await deletion).status);
    expect((await scene.call("GET", `/v2/${scene.repo}/manifests/race`)).headers.get("docker-content-digest")).toBe(moved.digest);
    expect(await breaches("race")).toMatchObject({ alive: 1, backwards: 0, overlapping: 0 });
  });

  it("repairs overlapping alive rows an older version left behind on the next write", async () => {
    const older = manifest("legacy-1");
    const newer = manifest("legacy-2");
    expect((await put("legacy", older.text)).status).toBe(201);
    expect((await put("legacy-other", newer.text)).status).toBe(201);
    // A second alive row of the name, started later and overlapping the first: the old race's result.
    await scene.origin.registry.sql.query(
      `INSERT INTO tag (name, repository_id, manifest_id, lifetime_start_ms, lifetime_end_ms, immutable, hidden, reversion, tag_kind_id)
       SELECT 'legacy', repository_id, manifest_id, lifetime_start_ms + 1, NULL, false, false, false, tag_kind_id
       FROM tag WHERE repository_id = $1 AND name = 'legacy-other'`,
      [scene.repoId],
    );
    expect((await breaches("legacy")).alive).toBe(2);
    expect((await put("legacy", manifest("legacy-3").text)).status).toBe(201);
    expect(await breaches("legacy")).toEqual({ alive: 1, backwards: 0, overlapping: 0, total: 3 });
  });

  it("keeps the invariants through a storm of 200 PUTs at concurrency 32 with DELETEs mixed in", async () => {
    offsetMs = 0;
    const operations = Array.from({ length: 208 }, (_, i) =>
      i % 26 === 25 ? { kind: "delete" as const } : { kind: "put" as const, ...manifest(`storm-${i}`) },
    );
    const statuses: number[] = [];
    let next = 0;
    async function worker() {
      while (next < operations.length) {
        const op = operations[next++]!;
        const response = op.kind === "put" ? await put("storm", op.text) : await scene.call("DELETE", `/v2/${scene.repo}/manifests/storm`);
        await response.body?.cancel();
        statuses.push(op.kind === "put" ? response.status : response.status === 404 ? 202 : response.status);
      }
    }
    await Promise.all(Array.from({ length: 32 }, worker));
    expect(statuses.filter((s) => s !== 201 && s !== 202)).toEqual([]);
    expect(statuses.filter((s) => s === 201)).toHaveLength(200);

    const last = await lastWrite("storm");
    expect(await breaches("storm")).toMatchObject({ alive: last.alive ? 1 : 0, backwards: 0, overlapping: 0 });
    const served = await scene.call("GET", `/v2/${scene.repo}/manifests/storm`, { headers: { accept: MediaType.ociManifest } });
    if (last.alive) expect(served.headers.get("docker-content-digest")).toBe(last.digest);
    else expect(served.status).toBe(404);
  }, 60_000);
});
