/**
 * Quota eviction for cache organizations against PostgreSQL: the least recently pulled
 * tag goes first (pull times recorded through LastPulls), shared blobs count once,
 * immutable tags stay, an image that cannot fit is refused, and the tag rows keep
 * Pier's invariants (removed from the time machine, never ending before they start).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fsBlobStore } from "../../src/adapters/blob/fs.js";
import { nodePostgresSql } from "../../src/adapters/sql/node-postgres.js";
import { RegistryError } from "../../src/core/errors/registry-error.js";
import type { Sql } from "../../src/core/ports/sql.js";
import { makeRoomForImage } from "../../src/core/proxy/eviction.js";
import { LastPulls } from "../../src/core/proxy/last-pulls.js";
import type { QuotaSettings } from "../../src/core/push/quota.js";
import { migrate } from "../../src/db/migrate.js";
import { fakeClock } from "../support/fake-clock.js";
import { createNamespace, createRepository, tagManifest, unique, type SeedTarget } from "../support/quay-seed.js";
import { createTestDatabase, type TestDatabase } from "../support/services.js";
import { aliveNames, blob, expectTagInvariants, image, index, setQuota, tagRows } from "./cache-org.js";

let db: TestDatabase;
let sql: Sql;
let root: string;
let target: SeedTarget;
const clock = fakeClock(Date.now());
const quota: QuotaSettings = { enabled: true, systemRejectBytes: 0 };
const MINUTE = 60_000;

beforeAll(async () => {
  db = await createTestDatabase("eviction");
  sql = nodePostgresSql(db.url);
  await migrate(sql);
  root = await mkdtemp(join(tmpdir(), "pier-eviction-"));
  target = { sql, blobs: fsBlobStore({ root }) };
});
afterAll(async () => {
  await sql?.close();
  await db?.drop();
  if (root) await rm(root, { recursive: true, force: true });
});

/** A cache organization (time machine window in seconds) with one repository. */
async function cacheOrg(windowSeconds = 1_209_600): Promise<{ orgId: number; repoId: number }> {
  const orgId = await createNamespace(target, unique("cache"), { organization: true });
  await sql.query(`UPDATE "user" SET removed_tag_expiration_s = $2 WHERE id = $1`, [orgId, windowSeconds]);
  return { orgId, repoId: await createRepository(target, orgId, "library/app") };
}

/** Tags `name` on a fresh image of `sizes`, cached `ageMinutes` ago. */
async function cachedTag(repoId: number, name: string, sizes: number[], ageMinutes = 60) {
  const blobs = await Promise.all(sizes.map((size) => blob(target, size)));
  const manifest = await image(target, repoId, blobs);
  const tagId = await tagManifest(target, repoId, name, manifest.id, { startMs: clock.now() - ageMinutes * MINUTE });
  return { blobs, manifest, tagId };
}

function incoming(...sizes: number[]) {
  return sizes.map((size, i) => ({ digest: `sha256:${crypto.randomUUID().replace(/-/g, "")}${i}`, size }));
}

function evict(orgId: number, blobs: { digest: string; size: number }[], settings = quota) {
  return sql.transaction((tx) => makeRoomForImage(tx, { clock, quota: settings }, orgId, blobs));
}

describe("makeRoomForImage", () => {
  it("evicts never-pulled tags first, then the least recently pulled, until the image fits", async () => {
    const { orgId, repoId } = await cacheOrg();
    await setQuota(sql, orgId, 12_000);
    for (const name of ["a", "b", "c", "d"]) await cachedTag(repoId, name, [3_000]);
    const pulls = new LastPulls(clock.now);
    pulls.add(repoId, "a", clock.now() - 1 * MINUTE);
    pulls.add(repoId, "b", clock.now() - 30 * MINUTE);
    pulls.add(repoId, "c", clock.now() - 10 * MINUTE);
    await pulls.flush(sql, true);

    const evicted = await evict(orgId, incoming(5_000));
    expect(evicted).toEqual([
      { repositoryId: repoId, repository: "library/app", tag: "d" },
      { repositoryId: repoId, repository: "library/app", tag: "b" },
    ]);
    expect((await aliveNames(sql, orgId, clock.now())).sort()).toEqual([`${repoId}:a`, `${repoId}:c`]);
    // A two-week window reaches back before the tags' start: the rows leave history entirely.
    expect((await tagRows(sql, orgId)).map((t) => t.name).sort()).toEqual(["a", "c"]);
    const { rows } = await sql.query(`SELECT tag_name FROM pier.proxy_tag_pull WHERE repository_id = $1 ORDER BY tag_name`, [repoId]);
    expect(rows).toEqual([{ tag_name: "a" }, { tag_name: "c" }]);
    await expectTagInvariants(sql, orgId, clock.now());
  });

  it("ends an evicted row at the window's start when that is after the row's start", async () => {
    const { orgId, repoId } = await cacheOrg(600);
    await setQuota(sql, orgId, 4_000);
    await cachedTag(repoId, "old", [3_000], 60);
    expect(await evict(orgId, incoming(2_000))).toHaveLength(1);
    const [row] = await tagRows(sql, orgId);
    expect(row).toMatchObject({ name: "old", end: clock.now() - 600_000 });
    await expectTagInvariants(sql, orgId, clock.now());
  });

  it("does nothing when the image fits, counting blobs shared between tags and with the image once", async () => {
    const { orgId, repoId } = await cacheOrg();
    await setQuota(sql, orgId, 10_000);
    const shared = await blob(target, 4_000);
    const x = await image(target, repoId, [shared, await blob(target, 1_000)]);
    const y = await image(target, repoId, [shared, await blob(target, 1_000)]);
    await tagManifest(target, repoId, "x", x.id, { startMs: clock.now() - MINUTE });
    await tagManifest(target, repoId, "y", y.id, { startMs: clock.now() - MINUTE });
    // Live: 6,000 (not 10,000); incoming: 3,000 new bytes (the shared 4,000 are live already).
    const image3 = [{ digest: shared.digest, size: shared.size }, ...incoming(3_000)];
    expect(await evict(orgId, image3)).toEqual([]);
    expect((await aliveNames(sql, orgId, clock.now())).sort()).toEqual([`${repoId}:x`, `${repoId}:y`]);
    // Evicting x frees only its own 1,000 bytes (the shared blob stays live through y): 5,000 + 5,001 still exceed, so y goes too.
    expect((await evict(orgId, incoming(5_001))).map((t) => t.tag)).toEqual(["x", "y"]);
  });

  it("counts blobs of list children and removes their $temp- tags with the list's tag", async () => {
    const { orgId, repoId } = await cacheOrg();
    await setQuota(sql, orgId, 5_000);
    const amd64 = await image(target, repoId, [await blob(target, 2_000)]);
    const arm64 = await image(target, repoId, [await blob(target, 2_000)]);
    const list = await index(target, repoId, [amd64, arm64]);
    await tagManifest(target, repoId, "multi", list.id, { startMs: clock.now() - MINUTE });
    await tagManifest(target, repoId, "$temp-amd64", amd64.id, {
      startMs: clock.now() - MINUTE,
      endMs: clock.now() + MINUTE,
      hidden: true,
    });
    await tagManifest(target, repoId, "$temp-arm64", arm64.id, {
      startMs: clock.now() - MINUTE,
      endMs: clock.now() + MINUTE,
      hidden: true,
    });
    expect(await evict(orgId, incoming(1_000))).toEqual([]);
    const evicted = await evict(orgId, incoming(1_001));
    expect(evicted.map((t) => t.tag)).toEqual(["multi", "$temp-amd64", "$temp-arm64"]);
    expect(await aliveNames(sql, orgId, clock.now())).toEqual([]);
    await expectTagInvariants(sql, orgId, clock.now());
  });

  it("keeps immutable tags; refuses when nothing evictable is left, and what it evicted stays evicted", async () => {
    const { orgId, repoId } = await cacheOrg();
    await setQuota(sql, orgId, 10_000);
    const pinned = await cachedTag(repoId, "pinned", [6_000], 120);
    await sql.query(`UPDATE tag SET immutable = true WHERE id = $1`, [pinned.tagId]);
    await cachedTag(repoId, "loose", [3_000], 60);
    let refusal: unknown = null;
    await sql.transaction(async (tx) => {
      // The caller commits what was evicted before the refusal, as Quay keeps it.
      refusal = await makeRoomForImage(tx, { clock, quota }, orgId, incoming(5_000)).then(
        () => null,
        (e: unknown) => e,
      );
    });
    expectQuotaExceeded(refusal);
    expect(await aliveNames(sql, orgId, clock.now())).toEqual([`${repoId}:pinned`]);
    await expectTagInvariants(sql, orgId, clock.now());
  });

  it("refuses an image larger than the limit on its own without evicting anything", async () => {
    const { orgId, repoId } = await cacheOrg();
    await setQuota(sql, orgId, 20_000, 50);
    await cachedTag(repoId, "kept", [1_000]);
    expectQuotaExceeded(
      await evict(orgId, incoming(6_000, 4_001)).then(
        () => null,
        (e: unknown) => e,
      ),
    );
    expect(await aliveNames(sql, orgId, clock.now())).toEqual([`${repoId}:kept`]);
  });

  it("uses the lowest Reject threshold, the system limit without quota rows, and nothing when quota is off or only warns", async () => {
    const { orgId, repoId } = await cacheOrg();
    await cachedTag(repoId, "t", [3_000]);
    expect(await evict(orgId, incoming(9_000))).toEqual([]);
    expect(await evict(orgId, incoming(2_000), { enabled: true, systemRejectBytes: 10_000 })).toEqual([]);
    expect(await evict(orgId, incoming(9_000), { enabled: false, systemRejectBytes: 10_000 })).toEqual([]);
    await setQuota(sql, orgId, 4_000, 50, "Warning");
    expect(await evict(orgId, incoming(9_000), { enabled: true, systemRejectBytes: 1 })).toEqual([]);
    await setQuota(sql, orgId, 10_000, 90);
    await setQuota(sql, orgId, 10_000, 60);
    // Threshold 6,000: 3,000 live + 3,000 incoming fits exactly; one byte more evicts.
    expect(await evict(orgId, incoming(3_000))).toEqual([]);
    expect((await evict(orgId, incoming(3_001))).map((t) => t.tag)).toEqual(["t"]);
  });
});

function expectQuotaExceeded(error: unknown): void {
  expect(error).toBeInstanceOf(RegistryError);
  expect((error as RegistryError).status).toBe(403);
  expect((error as RegistryError).toJSON()).toEqual({
    errors: [{ code: "DENIED", message: "Quota has been exceeded on namespace", detail: {} }],
  });
}
