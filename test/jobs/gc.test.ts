/**
 * Garbage collection: tags past the time machine go, then the manifests, labels, links
 * and storage rows nothing uses, then the objects; shared blobs, tags inside the window,
 * subjects of referrers and blobs of fresh uploads stay; a dry run changes nothing; quota
 * totals stay equal to a recomputation; and the storage sweep finds orphans no tag led to.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collectGarbage, SWEEP_CURSOR_KEYS } from "../../src/core/jobs/gc.js";
import { jobs, type JobContext } from "../../src/core/jobs/scheduler.js";
import { MediaType } from "../../src/core/model/media-types.js";
import { blobKey } from "../../src/core/storage-layout.js";
import { fakeClock } from "../support/fake-clock.js";
import { startPushScene, type PushScene } from "../support/origin-registry.js";
import { createRepository } from "../support/quay-seed.js";
import { expectTotalsTrue } from "../support/quota-check.js";
import { imagePusher, sha256 } from "../support/image-pushes.js";

const clock = fakeClock(Date.UTC(2026, 5, 1));
let scene: PushScene;
let namespaceId: number;
const DAY = 24 * 3600_000;
/** Past the seeded namespaces' two-week time machine and every upload link. */
const PAST_WINDOW = 15 * DAY;

/** Each call with a token minted now: the fake clock runs past a token's lifetime. */
async function call(method: string, path: string, body?: string, contentType?: string): Promise<Response> {
  const token = await scene.origin.token("writer", {
    [`${scene.namespace}/app`]: ["pull", "push"],
    [`${scene.namespace}/tools`]: ["pull", "push"],
  });
  return scene.call(method, path, { body, token, headers: contentType ? { "content-type": contentType } : {} });
}

const upload = (repository: string, content: string) => imagePusher(scene.namespace, call).upload(repository, content);
const push = (repository: string, reference: string | null, seed: string, layers: string[], extra: object = {}) =>
  imagePusher(scene.namespace, call).push(repository, reference, seed, layers, extra);

function context(dryRun = false): JobContext & { lines: string[]; bytes: number } {
  const lines: string[] = [];
  const result = {
    dryRun,
    lines,
    bytes: 0,
    report: (line: string) => lines.push(line),
    reclaimed: (bytes: number) => {
      result.bytes += bytes;
    },
  };
  return result;
}

/** Runs GC batches until one finds nothing; every line they reported. */
async function collectAll(): Promise<string[]> {
  const lines: string[] = [];
  for (let round = 0; round < 20; round++) {
    const run = context();
    const processed = await collectGarbage(scene.origin.registry, run);
    lines.push(...run.lines);
    if (processed === 0) return lines;
  }
  throw new Error("GC did not settle in 20 batches");
}

async function rowCount(sql: string, params: (string | number)[]): Promise<number> {
  const { rows } = await scene.origin.registry.sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM (${sql}) q`, params);
  return rows[0]!.n;
}

const storageRows = (digest: string) => rowCount(`SELECT 1 FROM imagestorage WHERE content_checksum = $1`, [digest]);
const manifestRows = (digest: string) => rowCount(`SELECT 1 FROM manifest WHERE digest = $1`, [digest]);
const objectOf = (digest: string) => scene.origin.registry.blobs.stat(blobKey(digest)!);

async function expectObjectIntact(digest: string): Promise<void> {
  const read = await scene.origin.registry.blobs.get(blobKey(digest)!);
  expect(read, `object of ${digest}`).not.toBeNull();
  const hash = createHash("sha256");
  for await (const chunk of read!.body as unknown as AsyncIterable<Uint8Array>) hash.update(chunk);
  expect(`sha256:${hash.digest("hex")}`).toBe(digest);
}

beforeAll(async () => {
  scene = await startPushScene("gc", { clock, env: { PIER_QUOTA_MANAGEMENT: "true" } });
  const { rows } = await scene.origin.registry.sql.query<{ id: number }>(`SELECT namespace_user_id AS id FROM repository WHERE id = $1`, [
    scene.repoId,
  ]);
  namespaceId = rows[0]!.id;
  await createRepository(scene.origin.registry, namespaceId, "tools");
  // The instance key would expire as the fake clock runs weeks ahead; the process refreshing it is not part of this test.
  await scene.origin.registry.sql.query(`UPDATE servicekey SET expiration_date = NULL`);
}, 60_000);
afterAll(() => scene?.origin.close());

describe("gc job", () => {
  it("is in the job table every minute, with a dry run, behind PIER_GARBAGE_COLLECTION", () => {
    const job = jobs.find((entry) => entry.name === "gc")!;
    expect(job.everyMinutes).toBe(1);
    expect(job.supportsDryRun).toBe(true);
  });

  it("collects a deleted tag's manifest and blobs only past the time machine, keeping blobs another repository uses", async () => {
    const shared = `shared layer ${crypto.randomUUID()}`;
    const own = `own layer ${crypto.randomUUID()}`;
    const doomed = await push("app", "old", `doomed ${crypto.randomUUID()}`, [shared, own]);
    const kept = await push("tools", "stay", `kept ${crypto.randomUUID()}`, [shared]);
    // A tag deleted in the instant of its push is removed outright; one second later it is ended.
    clock.advance(1000);
    expect((await call("DELETE", `/v2/${scene.namespace}/app/manifests/old`)).status).toBe(202);
    clock.advance(2 * 3600_000);

    // Inside the window: the tag can still be restored, so nothing of it goes.
    await collectAll();
    expect(await manifestRows(doomed.digest)).toBe(1);
    expect(await objectOf(sha256(own))).not.toBeNull();

    clock.advance(PAST_WINDOW);
    const lines = await collectAll();
    expect(lines).toContain(`tag ${scene.namespace}/app:old`);
    expect(lines).toContain(`manifest ${scene.namespace}/app@${doomed.digest}`);
    expect(lines).toContain(`blob ${sha256(own)} (${Buffer.byteLength(own)} bytes)`);
    expect(await rowCount(`SELECT 1 FROM tag WHERE repository_id = $1 AND name = 'old'`, [scene.repoId])).toBe(0);
    expect(await manifestRows(doomed.digest)).toBe(0);
    expect(await storageRows(sha256(own))).toBe(0);
    expect(await objectOf(sha256(own))).toBeNull();
    // The doomed image's config was its own too.
    expect(await objectOf(doomed.blobs[0]!)).toBeNull();

    // The other repository's image is whole, and still pulls.
    expect(await manifestRows(kept.digest)).toBe(1);
    for (const digest of kept.blobs) {
      expect(await storageRows(digest)).toBe(1);
      await expectObjectIntact(digest);
      expect((await call("HEAD", `/v2/${scene.namespace}/tools/blobs/${digest}`)).status).toBe(200);
    }
    expect((await call("GET", `/v2/${scene.namespace}/tools/manifests/stay`)).status).toBe(200);
    await expectTotalsTrue(scene.origin.registry.sql, namespaceId);
  });

  it("collects blobs whose upload link expired in repositories that never had a tag expire", async () => {
    const loose = `loose ${crypto.randomUUID()}`;
    await upload("tools", loose);
    await collectAll();
    expect(await objectOf(sha256(loose))).not.toBeNull();
    clock.advance(2 * 3600_000);
    const lines = await collectAll();
    expect(lines).toContain(`blob ${sha256(loose)} (${Buffer.byteLength(loose)} bytes)`);
    expect(await storageRows(sha256(loose))).toBe(0);
    expect(await objectOf(sha256(loose))).toBeNull();
    expect((await call("HEAD", `/v2/${scene.namespace}/tools/blobs/${sha256(loose)}`)).status).toBe(404);
  });

  it("collects an index with its children once its tag is past the window, and the blobs only they used", async () => {
    const children = [];
    for (const arch of ["amd64", "arm64"])
      children.push(await push("app", null, `child ${arch} ${crypto.randomUUID()}`, [`${arch} ${crypto.randomUUID()}`]));
    const index = JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociIndex,
      manifests: children.map((child, n) => ({
        mediaType: MediaType.ociManifest,
        digest: child.digest,
        size: 0,
        platform: { os: "linux", architecture: n === 0 ? "amd64" : "arm64" },
      })),
    });
    // Sizes must match what was stored.
    const sized = JSON.parse(index) as { manifests: { digest: string; size: number }[] };
    for (const entry of sized.manifests) {
      const { rows } = await scene.origin.registry.sql.query<{ size: number }>(
        `SELECT octet_length(manifest_bytes) AS size FROM manifest WHERE digest = $1`,
        [entry.digest],
      );
      entry.size = rows[0]!.size;
    }
    const text = JSON.stringify(sized);
    expect((await call("PUT", `/v2/${scene.namespace}/app/manifests/multi`, text, MediaType.ociIndex)).status).toBe(201);
    clock.advance(2 * 3600_000);
    // The children's temporary tags expired, but the index still holds them.
    await collectAll();
    for (const child of children) expect(await manifestRows(child.digest)).toBe(1);

    clock.advance(1000);
    expect((await call("DELETE", `/v2/${scene.namespace}/app/manifests/multi`)).status).toBe(202);
    clock.advance(PAST_WINDOW);
    await collectAll();
    expect(await manifestRows(sha256(text))).toBe(0);
    for (const child of children) {
      expect(await manifestRows(child.digest)).toBe(0);
      for (const blob of child.blobs) expect(await objectOf(blob)).toBeNull();
    }
    await expectTotalsTrue(scene.origin.registry.sql, namespaceId);
  });

  it("keeps a manifest that a referrer names as its subject", async () => {
    const subject = await push("app", "signed", `subject ${crypto.randomUUID()}`, [`subject layer ${crypto.randomUUID()}`]);
    const { rows } = await scene.origin.registry.sql.query<{ size: number }>(
      `SELECT octet_length(manifest_bytes) AS size FROM manifest WHERE digest = $1`,
      [subject.digest],
    );
    const referrer = await push("app", null, `signature ${crypto.randomUUID()}`, [], {
      artifactType: "application/vnd.example.signature",
      subject: { mediaType: MediaType.ociManifest, digest: subject.digest, size: rows[0]!.size },
    });
    clock.advance(1000);
    expect((await call("DELETE", `/v2/${scene.namespace}/app/manifests/signed`)).status).toBe(202);
    clock.advance(PAST_WINDOW);
    await collectAll();
    expect(await manifestRows(referrer.digest)).toBe(1);
    expect(await manifestRows(subject.digest)).toBe(1);
    for (const blob of subject.blobs) await expectObjectIntact(blob);
  });

  it("in a dry run reports what it would collect and changes nothing", async () => {
    const layer = `dry ${crypto.randomUUID()}`;
    const image = await push("tools", "dry", `dry ${crypto.randomUUID()}`, [layer]);
    clock.advance(1000);
    expect((await call("DELETE", `/v2/${scene.namespace}/tools/manifests/dry`)).status).toBe(202);
    clock.advance(PAST_WINDOW);
    const run = context(true);
    expect(await collectGarbage(scene.origin.registry, run)).toBeGreaterThanOrEqual(4);
    expect(run.lines).toContain(`tag ${scene.namespace}/tools:dry`);
    expect(run.lines).toContain(`manifest ${scene.namespace}/tools@${image.digest}`);
    expect(run.lines).toContain(`blob ${sha256(layer)} (${Buffer.byteLength(layer)} bytes)`);
    expect(
      await rowCount(`SELECT 1 FROM tag t JOIN repository r ON r.id = t.repository_id WHERE r.name = 'tools' AND t.name = 'dry'`, []),
    ).toBe(1);
    expect(await manifestRows(image.digest)).toBe(1);
    expect(await storageRows(sha256(layer))).toBe(1);
    await expectObjectIntact(sha256(layer));

    await collectAll();
    expect(await manifestRows(image.digest)).toBe(0);
    expect(await objectOf(sha256(layer))).toBeNull();
  });

  it("sweeps placed storage rows nothing references, wherever they came from", async () => {
    const orphan = `orphan ${crypto.randomUUID()}`;
    await upload("app", orphan);
    // A link removed behind GC's back (as a Quay worker or a crash could leave it).
    await scene.origin.registry.sql.query(
      `DELETE FROM uploadedblob WHERE blob_id IN (SELECT id FROM imagestorage WHERE content_checksum = $1)`,
      [sha256(orphan)],
    );
    await scene.origin.registry.cache.delete(Object.values(SWEEP_CURSOR_KEYS));
    await collectAll();
    expect(await storageRows(sha256(orphan))).toBe(0);
    expect(await objectOf(sha256(orphan))).toBeNull();
  });
});
