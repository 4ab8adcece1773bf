/**
 * The repo-mirror job against real upstreams (Debian's docker-registry, one open and
 * one behind htpasswd), Pier's origin adapters (PostgreSQL, Redis, the verifying S3
 * server) and a fake clock: glob filters, images and indexes copied with their bytes
 * verified, a retag upstream moving only the new layers, tags deleted upstream ended
 * locally, an upstream going down mid-sync and the next run resuming without fetching
 * again what arrived, an expired claim taken over, two runners never syncing one mirror
 * twice, Quay's status/retry/next-start rules and audit entries, Pier's counters.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FieldEncrypter } from "../../src/core/auth/field-encryption.js";
import { runRepoMirror } from "../../src/core/jobs/repo-mirror.js";
import type { JobContext } from "../../src/core/jobs/scheduler.js";
import { createApp } from "../../src/http/app.js";
import { findMirrorStats } from "../../src/db/queries/repo-mirror.js";
import { fakeClock } from "../support/fake-clock.js";
import { startFaultProxy, type FaultProxy } from "../support/fault-proxy.js";
import { insertDueMirror, recordUpstream, storedDigest, withUpstreamDownAt, type UpstreamRecorder } from "../support/mirror-seed.js";
import { startOriginRegistry, TEST_HOST, type OriginFixture } from "../support/origin-registry.js";
import { createNamespace, createRepository, unique } from "../support/quay-seed.js";
import {
  pushBlob,
  pushImage,
  startUpstreamRegistry,
  type PushedImage,
  type UpstreamRegistryProcess,
} from "../support/upstream-registry.js";

const SECRET_KEY = "mirror-test-database-secret";
const clock = fakeClock(Date.UTC(2030, 0, 1));
const context: JobContext = { dryRun: false, report: () => {}, reclaimed: () => {} };
let origin: OriginFixture;
let upstream: UpstreamRegistryProcess;
let guarded: UpstreamRegistryProcess;
let faulty: FaultProxy;
let orgId: number;
let org: string;
let robotId: number;
let recorder: UpstreamRecorder;

const sha256 = (bytes: Uint8Array) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
const encoder = new TextEncoder();

beforeAll(async () => {
  origin = await startOriginRegistry("mirror", clock, {
    env: { PIER_REPO_MIRROR: "true", PIER_SSRF_ALLOWED_HOSTS: "127.0.0.1", PIER_DATABASE_SECRET_KEY: SECRET_KEY },
  });
  recorder = recordUpstream(origin.registry);
  upstream = await startUpstreamRegistry({ deletes: true });
  guarded = await startUpstreamRegistry({ basicAuth: { username: "puller", password: "pull-secret" } });
  const [host, portText] = upstream.host.split(":");
  faulty = await startFaultProxy({ host: host!, port: Number(portText) });
  org = unique("mirrors");
  orgId = await createNamespace(origin.registry, org, { organization: true });
  const { rows } = await origin.direct.query<{ id: number }>(
    `INSERT INTO "user" (uuid, username, email, verified, organization, robot, invoice_email, invalid_login_attempts,
       last_invalid_login, removed_tag_expiration_s, enabled, creation_date)
     VALUES ($1, $2, $3, true, false, true, false, 0, now(), 1209600, true, now()) RETURNING id`,
    [crypto.randomUUID(), `${org}+syncer`, crypto.randomUUID()],
  );
  robotId = rows[0]!.id;
}, 120_000);

afterAll(async () => {
  await origin?.close();
  await faulty?.close();
  await upstream?.close();
  await guarded?.close();
});

interface Mirror {
  repo: string;
  repoId: number;
}

/** A MIRROR repository of `reference` with `globs`, due now (SYNC_NOW). */
async function mirrorOf(reference: string, globs: string[], credentials?: { username: string; password: string }): Promise<Mirror> {
  const repo = unique("mirrored");
  const repoId = await createRepository(origin.registry, orgId, repo, { visibility: "private" });
  const fields = new FieldEncrypter(SECRET_KEY);
  await insertDueMirror(origin.direct, {
    repositoryId: repoId,
    robotId,
    reference,
    globs,
    nowMs: clock.now(),
    username: credentials ? await fields.encrypt(credentials.username) : null,
    password: credentials ? await fields.encrypt(credentials.password) : null,
  });
  return { repo, repoId };
}

async function config(m: Mirror) {
  const { rows } = await origin.direct.query<{
    sync_status: number;
    sync_retries_remaining: number;
    start_ms: string | null;
    expiration: Date | null;
  }>(
    `SELECT sync_status, sync_retries_remaining, (extract(epoch FROM sync_start_date) * 1000)::bigint::text AS start_ms,
            sync_expiration_date AS expiration FROM repomirrorconfig WHERE repository_id = $1`,
    [m.repoId],
  );
  return rows[0]!;
}

async function syncNow(m: Mirror): Promise<void> {
  await origin.direct.query(
    `UPDATE repomirrorconfig SET sync_status = 3, sync_expiration_date = NULL, sync_retries_remaining = GREATEST(sync_retries_remaining, 1)
     WHERE repository_id = $1`,
    [m.repoId],
  );
}

async function localTags(m: Mirror): Promise<Record<string, string>> {
  const { rows } = await origin.direct.query<{ name: string; digest: string }>(
    `SELECT t.name, m.digest FROM tag t JOIN manifest m ON m.id = t.manifest_id
     WHERE t.repository_id = $1 AND NOT t.hidden AND (t.lifetime_end_ms IS NULL OR t.lifetime_end_ms > $2) ORDER BY t.name`,
    [m.repoId, clock.now()],
  );
  return Object.fromEntries(rows.map((r) => [r.name, r.digest]));
}

async function manifestBytes(m: Mirror, digest: string): Promise<string | null> {
  const { rows } = await origin.direct.query<{ manifest_bytes: string }>(
    `SELECT manifest_bytes FROM manifest WHERE repository_id = $1 AND digest = $2`,
    [m.repoId, digest],
  );
  return rows[0]?.manifest_bytes ?? null;
}

async function auditKinds(m: Mirror): Promise<{ kind: string; tag: string | null; verb: string }[]> {
  const { rows } = await origin.direct.query<{ kind: string; metadata_json: string }>(
    `SELECT k.name AS kind, l.metadata_json FROM logentry3 l JOIN logentrykind k ON k.id = l.kind_id WHERE l.repository_id = $1 ORDER BY l.id`,
    [m.repoId],
  );
  return rows.map((r) => {
    const metadata = JSON.parse(r.metadata_json) as { tag: string | null; verb: string };
    return { kind: r.kind, tag: metadata.tag, verb: metadata.verb };
  });
}

/** An index over `images` pushed as `tag`. */
async function pushIndex(url: string, repository: string, tag: string, images: PushedImage[]): Promise<string> {
  const mediaType = "application/vnd.oci.image.index.v1+json";
  const bytes = encoder.encode(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      manifests: images.map((image, i) => ({
        mediaType: image.mediaType,
        digest: image.digest,
        size: image.bytes.byteLength,
        platform: { os: "linux", architecture: i === 0 ? "amd64" : "arm64" },
      })),
    }),
  );
  const put = await fetch(`${url}/v2/${repository}/manifests/${tag}`, {
    method: "PUT",
    headers: { "content-type": mediaType },
    body: bytes,
  });
  expect(put.status).toBe(201);
  return sha256(bytes);
}

describe("the repo-mirror job", () => {
  const source = "team/app";
  let latest: PushedImage;
  let v10: PushedImage;
  let v11: PushedImage;
  let indexDigest: string;
  let mirror: Mirror;

  it("copies the tags matching the globs — images, an index with its children, every blob verified — and records Quay's outcome", async () => {
    latest = await pushImage(upstream.url, source, "latest", { layerSizes: [40_000, 1000] });
    v10 = await pushImage(upstream.url, source, "v1.0", { layerSizes: [30_000] });
    v11 = await pushImage(upstream.url, source, "v1.1", { layerSizes: [20_000] });
    await pushImage(upstream.url, source, "dev", { layerSizes: [10_000] });
    const arm = await pushImage(upstream.url, source, "arm-only", { layerSizes: [5_000] });
    indexDigest = await pushIndex(upstream.url, source, "multi", [v10, arm]);
    mirror = await mirrorOf(`${upstream.host}/${source}`, ["latest", "v1.*", "multi"]);
    recorder.sent.length = 0;

    expect(await runRepoMirror(origin.registry, context)).toBe(1);

    expect(await localTags(mirror)).toEqual({ latest: latest.digest, multi: indexDigest, "v1.0": v10.digest, "v1.1": v11.digest });
    expect(await manifestBytes(mirror, latest.digest)).toBe(new TextDecoder().decode(latest.bytes));
    // The index's children are whole manifests of the repository, the one not tagged included.
    expect(await manifestBytes(mirror, arm.digest)).toBe(new TextDecoder().decode(arm.bytes));
    const { rows: children } = await origin.direct.query(
      `SELECT c.digest FROM manifestchild mc JOIN manifest p ON p.id = mc.manifest_id JOIN manifest c ON c.id = mc.child_manifest_id
       WHERE p.digest = $1 AND mc.repository_id = $2 ORDER BY c.digest`,
      [indexDigest, mirror.repoId],
    );
    expect(children.map((c: any) => c.digest)).toEqual([v10.digest, arm.digest].sort());
    for (const layer of [...latest.layers, ...v10.layers, ...v11.layers, ...arm.layers]) {
      expect(await storedDigest(origin.registry.blobs, layer.digest)).toBe(layer.digest);
    }
    // Each blob crossed once, although v1.0's are needed by the tag and the index.
    const unique = new Set(recorder.blobGets());
    expect(recorder.blobGets().length).toBe(unique.size);
    expect(recorder.sent.some((line) => line.includes("/dev"))).toBe(false);

    const row = await config(mirror);
    expect(row.sync_status).toBe(1);
    expect(row.sync_retries_remaining).toBe(3);
    expect(row.expiration).toBeNull();
    // The next point on the start-date grid (start was a minute ago, interval an hour).
    expect(Number(row.start_ms)).toBe(clock.now() + 3_540_000);
    expect(await auditKinds(mirror)).toEqual([
      { kind: "repo_mirror_sync_started", tag: null, verb: "start" },
      { kind: "repo_mirror_sync_tag_success", tag: "latest", verb: "finish" },
      { kind: "repo_mirror_sync_tag_success", tag: "multi", verb: "finish" },
      { kind: "repo_mirror_sync_tag_success", tag: "v1.0", verb: "finish" },
      { kind: "repo_mirror_sync_tag_success", tag: "v1.1", verb: "finish" },
      { kind: "repo_mirror_sync_success", tag: null, verb: "end" },
    ]);
    // Clients pull the mirrored content from Pier: the upstream's bytes under the upstream's digests.
    const app = createApp(origin.registry);
    const token = await origin.token("puller", { [`${org}/${mirror.repo}`]: ["pull"] });
    for (const [tag, digest] of [
      ["latest", latest.digest],
      ["multi", indexDigest],
    ] as const) {
      const response = await app.request(`https://${TEST_HOST}/v2/${org}/${mirror.repo}/manifests/${tag}`, {
        headers: {
          authorization: `Bearer ${token}`,
          accept: "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json",
        },
      });
      expect(response.status).toBe(200);
      expect(response.headers.get("docker-content-digest")).toBe(digest);
      expect(sha256(new Uint8Array(await response.arrayBuffer()))).toBe(digest);
    }
    const stats = await findMirrorStats(origin.direct, mirror.repoId);
    const copiedBytes = [latest, v10, v11, arm].flatMap((i) => i.layers).reduce((sum, l) => sum + l.bytes.byteLength, 0);
    expect(Number(stats!.bytes_copied)).toBeGreaterThan(copiedBytes);
    expect(stats).toMatchObject({ runs: "1", failures: "0", tags_synced: "4", tags_failed: "0", run_tags_total: 4, run_tags_done: 4 });
    expect(Number(stats!.last_success_ms)).toBe(clock.now());
  });

  it("a mirror that is not due is left alone; nothing is claimed", async () => {
    recorder.sent.length = 0;
    expect(await runRepoMirror(origin.registry, context)).toBe(0);
    expect(recorder.sent).toEqual([]);
  });

  it("after a retag upstream, a re-sync moves only the new layer and config; unchanged tags cost a HEAD", async () => {
    clock.advance(1000);
    const shared = latest.layers[0]!;
    const fresh = crypto.getRandomValues(new Uint8Array(7_000));
    const freshDigest = await pushBlob(upstream.url, source, fresh);
    const configBytes = encoder.encode(
      JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] }, n: 2 }),
    );
    const configDigest = await pushBlob(upstream.url, source, configBytes);
    const mediaType = "application/vnd.oci.image.manifest.v1+json";
    const manifest = encoder.encode(
      JSON.stringify({
        schemaVersion: 2,
        mediaType,
        config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: configDigest, size: configBytes.byteLength },
        layers: [
          { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: shared.digest, size: shared.bytes.byteLength },
          { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: freshDigest, size: fresh.byteLength },
        ],
      }),
    );
    const put = await fetch(`${upstream.url}/v2/${source}/manifests/latest`, {
      method: "PUT",
      headers: { "content-type": mediaType },
      body: manifest,
    });
    expect(put.status).toBe(201);
    const before = await findMirrorStats(origin.direct, mirror.repoId);
    await syncNow(mirror);
    recorder.sent.length = 0;

    expect(await runRepoMirror(origin.registry, context)).toBe(1);

    expect((await localTags(mirror)).latest).toBe(sha256(manifest));
    expect(recorder.blobGets().sort()).toEqual(
      [`GET /v2/${source}/blobs/${configDigest}`, `GET /v2/${source}/blobs/${freshDigest}`].sort(),
    );
    expect(recorder.sent.filter((l) => l.startsWith("GET") && l.includes("/manifests/"))).toEqual([`GET /v2/${source}/manifests/latest`]);
    expect(await storedDigest(origin.registry.blobs, freshDigest)).toBe(freshDigest);
    const after = await findMirrorStats(origin.direct, mirror.repoId);
    expect(Number(after!.bytes_copied) - Number(before!.bytes_copied)).toBe(fresh.byteLength + configBytes.byteLength);
    expect(Number(after!.blobs_linked) - Number(before!.blobs_linked)).toBe(1);
  });

  it("a tag deleted upstream (or no longer matching) is ended locally, as Quay does", async () => {
    clock.advance(1000);
    const gone = await fetch(`${upstream.url}/v2/${source}/manifests/${v11.digest}`, { method: "DELETE" });
    expect(gone.status).toBe(202);
    await syncNow(mirror);
    expect(await runRepoMirror(origin.registry, context)).toBe(1);
    const tags = await localTags(mirror);
    expect(Object.keys(tags)).toEqual(["latest", "multi", "v1.0"]);
    // Soft-deleted: the row ended, the time machine can restore it.
    const { rows } = await origin.direct.query(`SELECT lifetime_end_ms FROM tag WHERE repository_id = $1 AND name = 'v1.1'`, [
      mirror.repoId,
    ]);
    expect(rows).toHaveLength(1);
    expect(Number((rows[0] as any).lifetime_end_ms)).toBe(clock.now());
    expect((await findMirrorStats(origin.direct, mirror.repoId))!.tags_deleted).toBe("1");
  });
});

describe("failures, retries and resumption", () => {
  it("an upstream going down mid-sync fails the run (retries left, start kept); the next run resumes without fetching again what arrived", async () => {
    clock.advance(1000);
    const repository = "team/flaky";
    const images: PushedImage[] = [];
    for (const tag of ["a1", "a2", "a3"]) images.push(await pushImage(upstream.url, repository, tag, { layerSizes: [15_000] }));
    const mirror = await mirrorOf(`127.0.0.1:${faulty.port}/${repository}`, ["a*"]);
    const start = (await config(mirror)).start_ms;
    // The upstream goes away as the second tag is asked for.
    expect(await withUpstreamDownAt(recorder, faulty, "/manifests/a2", () => runRepoMirror(origin.registry, context))).toBe(1);

    const failed = await config(mirror);
    expect(failed.sync_status).toBe(-1);
    expect(failed.sync_retries_remaining).toBe(2);
    expect(failed.start_ms).toBe(start);
    expect(Object.keys(await localTags(mirror))).toEqual(["a1"]);
    const kinds = (await auditKinds(mirror)).map((a) => `${a.kind}:${a.tag ?? ""}`);
    expect(kinds[0]).toBe("repo_mirror_sync_started:");
    expect(kinds).toContain("repo_mirror_sync_tag_success:a1");
    expect(kinds).toContain("repo_mirror_sync_tag_failed:a2");
    expect(kinds.at(-1)).toBe("repo_mirror_sync_failed:");
    const fetchedFirst = recorder.blobGets();

    // Still due (start kept, retries left): the next run picks it up by itself.
    clock.advance(30_000);
    recorder.sent.length = 0;
    expect(await runRepoMirror(origin.registry, context)).toBe(1);
    expect(await localTags(mirror)).toEqual({ a1: images[0]!.digest, a2: images[1]!.digest, a3: images[2]!.digest });
    const refetched = recorder
      .blobGets()
      .filter((line) => fetchedFirst.includes(line) && images[0]!.layers.some((l) => line.endsWith(l.digest)));
    expect(refetched).toEqual([]);
    expect((await config(mirror)).sync_status).toBe(1);
    const stats = await findMirrorStats(origin.direct, mirror.repoId);
    expect(stats).toMatchObject({ runs: "2", failures: "1" });
    expect(stats!.last_error).toBeNull();
  });

  it("sync-cancel during a run stops it after the tag in hand: CANCEL, no retries, Quay's 'Cancelled' entry", async () => {
    clock.advance(1000);
    const repository = "team/cancelled";
    for (const tag of ["c1", "c2", "c3"]) await pushImage(upstream.url, repository, tag, { layerSizes: [1_500] });
    const mirror = await mirrorOf(`${upstream.host}/${repository}`, ["c*"]);
    // What POST …/mirror/sync-cancel writes, as the second tag is fetched.
    recorder.beforeSend = async (request) => {
      if (!request.url.endsWith("/manifests/c2")) return;
      await origin.direct.query(
        `UPDATE repomirrorconfig SET sync_status = -2, sync_expiration_date = NULL, sync_retries_remaining = 0,
           sync_transaction_id = gen_random_uuid()::text WHERE repository_id = $1`,
        [mirror.repoId],
      );
    };
    expect(await runRepoMirror(origin.registry, context)).toBe(1);
    recorder.beforeSend = () => {};
    expect(Object.keys(await localTags(mirror))).toEqual(["c1", "c2"]);
    const row = await config(mirror);
    expect(row.sync_status).toBe(-2);
    expect(row.sync_retries_remaining).toBe(0);
    expect((await auditKinds(mirror)).at(-1)).toEqual({ kind: "repo_mirror_sync_failed", tag: null, verb: "Cancelled" });
    // Cancelled (no retries): not due again until sync-now.
    clock.advance(3_600_000);
    await runRepoMirror(origin.registry, context);
    expect((await auditKinds(mirror)).filter((a) => a.kind === "repo_mirror_sync_started")).toHaveLength(1);
    expect((await config(mirror)).sync_status).toBe(-2);
  });

  it("a claim left by a runner that died is taken over once it expires (Quay never reclaims it)", async () => {
    clock.advance(1000);
    await pushImage(upstream.url, "team/orphan", "v1", { layerSizes: [3_000] });
    const mirror = await mirrorOf(`${upstream.host}/team/orphan`, ["*"]);
    await origin.direct.query(
      `UPDATE repomirrorconfig SET sync_status = 2, sync_expiration_date = $2::timestamp, sync_transaction_id = 'dead-runner' WHERE repository_id = $1`,
      [mirror.repoId, new Date(clock.now() + 60_000).toISOString().replace("Z", "")],
    );
    expect(await runRepoMirror(origin.registry, context)).toBe(0);
    clock.advance(61_000);
    expect(await runRepoMirror(origin.registry, context)).toBe(1);
    expect(Object.keys(await localTags(mirror))).toEqual(["v1"]);
    expect((await config(mirror)).sync_status).toBe(1);
  });

  it("two runners at once split the due mirrors: each is synced exactly once", async () => {
    clock.advance(1000);
    await pushImage(upstream.url, "team/pair", "v1", { layerSizes: [2_000] });
    const mirrors = [
      await mirrorOf(`${upstream.host}/team/pair`, ["*"]),
      await mirrorOf(`${upstream.host}/team/pair`, ["*"]),
      await mirrorOf(`${upstream.host}/team/pair`, ["*"]),
    ];
    const counts = await Promise.all([runRepoMirror(origin.registry, context), runRepoMirror(origin.registry, context)]);
    expect(counts[0]! + counts[1]!).toBe(3);
    for (const mirror of mirrors) {
      const started = (await auditKinds(mirror)).filter((a) => a.kind === "repo_mirror_sync_started");
      expect(started).toHaveLength(1);
      expect(Object.keys(await localTags(mirror))).toEqual(["v1"]);
    }
  });

  it("an unreachable or refused upstream is a failed run with Quay's audit entry; credentials stored encrypted reach one behind auth", async () => {
    clock.advance(1000);
    const image = await pushImage(guarded.url, "team/secret", "v1", {
      layerSizes: [4_000],
      authorization: `Basic ${Buffer.from("puller:pull-secret").toString("base64")}`,
    });
    const anonymous = await mirrorOf(`${guarded.host}/team/secret`, ["*"]);
    const withCredentials = await mirrorOf(`${guarded.host}/team/secret`, ["*"], { username: "puller", password: "pull-secret" });
    expect(await runRepoMirror(origin.registry, context)).toBe(2);
    expect((await config(anonymous)).sync_status).toBe(-1);
    expect((await auditKinds(anonymous)).map((a) => a.kind)).toEqual(["repo_mirror_sync_started", "repo_mirror_sync_failed"]);
    expect((await findMirrorStats(origin.direct, anonymous.repoId))!.last_error).toMatch(/auth|401|credentials|denied/i);
    expect(await localTags(withCredentials)).toEqual({ v1: image.digest });
    // Its retries would make it due again in the next test's run.
    await origin.direct.query(`UPDATE repomirrorconfig SET is_enabled = false WHERE repository_id = $1`, [anonymous.repoId]);
  });

  it("a run whose globs match nothing succeeds with Quay's 'No tags matched' and deletes nothing", async () => {
    clock.advance(1000);
    const mirror = await mirrorOf(`${upstream.host}/team/app`, ["nomatch-*"]);
    expect(await runRepoMirror(origin.registry, context)).toBe(1);
    expect((await config(mirror)).sync_status).toBe(1);
    const { rows } = await origin.direct.query<{ metadata_json: string }>(
      `SELECT l.metadata_json FROM logentry3 l JOIN logentrykind k ON k.id = l.kind_id WHERE l.repository_id = $1 AND k.name = 'repo_mirror_sync_success'`,
      [mirror.repoId],
    );
    expect(JSON.parse(rows[0]!.metadata_json).tags).toBe("No tags matched");
  });
});
