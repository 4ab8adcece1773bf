/**
 * A push, mount or manifest PUT racing garbage collection never loses a blob. Each round
 * expires an image whose layers the next pushes reuse, then pushes them again while GC
 * runs: first with GC forced into the worst instant (right before every transaction of
 * the push: after the bytes are written or found, before they are recorded), then with
 * GC passes looping concurrently with parallel pushes. After every round each blob of
 * every live image has its rows and an object whose bytes hash to its digest.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collectGarbage } from "../../src/core/jobs/gc.js";
import type { JobContext } from "../../src/core/jobs/scheduler.js";
import { MediaType } from "../../src/core/model/media-types.js";
import type { Sql } from "../../src/core/ports/sql.js";
import type { Registry } from "../../src/core/registry.js";
import { blobKey } from "../../src/core/storage-layout.js";
import { createApp } from "../../src/http/app.js";
import { fakeClock } from "../support/fake-clock.js";
import { startPushScene, TEST_HOST, type PushScene } from "../support/origin-registry.js";
import { createRepository } from "../support/quay-seed.js";

const clock = fakeClock(Date.UTC(2026, 6, 1));
let scene: PushScene;
const REPOSITORIES = ["old", "new", "mnt", "p0", "p1", "p2"];
/** The namespace's time machine is set to a minute; this is past it and past every upload link. */
const PAST_WINDOW = 2 * 3600_000;

const sha256 = (bytes: string) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
const quiet: JobContext = { dryRun: false, report: () => {}, reclaimed: () => {} };

async function gcUntilSettled(): Promise<void> {
  for (let round = 0; round < 20; round++) if ((await collectGarbage(scene.origin.registry, quiet)) === 0) return;
}

type Caller = (method: string, path: string, init?: { body?: string; headers?: Record<string, string> }) => Promise<Response>;

function callerFor(registry: Registry): Caller {
  const app = createApp(registry);
  return async (method, path, init = {}) => {
    const token = await scene.origin.token(
      "writer",
      Object.fromEntries(REPOSITORIES.map((r) => [`${scene.namespace}/${r}`, ["pull", "push"]])),
    );
    const headers = new Headers(init.headers);
    headers.set("authorization", `Bearer ${token}`);
    return app.request(`https://${TEST_HOST}/v2/${scene.namespace}/${path}`, { method, body: init.body ?? null, headers });
  };
}

async function upload(call: Caller, repository: string, content: string) {
  const response = await call("POST", `${repository}/blobs/uploads/?digest=${sha256(content)}`, { body: content });
  expect(response.status, `upload to ${repository}`).toBe(201);
  return { mediaType: "application/octet-stream", digest: sha256(content), size: Buffer.byteLength(content) };
}

/** Pushes an image of the layers (uploaded, or mounted from `mountFrom`), then its config, under `tag`. */
async function push(call: Caller, repository: string, tag: string, layers: string[], mountFrom?: string): Promise<void> {
  const descriptors = [];
  for (const layer of layers) {
    if (mountFrom) {
      const mounted = await call("POST", `${repository}/blobs/uploads/?mount=${sha256(layer)}&from=${scene.namespace}/${mountFrom}`);
      expect(mounted.status, `mount into ${repository}`).toBe(201);
      descriptors.push({ mediaType: "application/octet-stream", digest: sha256(layer), size: Buffer.byteLength(layer) });
    } else {
      descriptors.push(await upload(call, repository, layer));
    }
  }
  // The config last: a racing GC pass before its commit would take the layers' old objects before they are found.
  const config = await upload(call, repository, JSON.stringify({ seed: `${repository}:${tag}` }));
  const text = JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociManifest, config, layers: descriptors });
  const response = await call("PUT", `${repository}/manifests/${tag}`, { body: text, headers: { "content-type": MediaType.ociManifest } });
  expect(response.status, `manifest PUT ${repository}:${tag}`).toBe(201);
}

/** An image in `old` whose tag has ended and passed the time machine, so GC would collect its layers. */
async function expiredImage(call: Caller, tag: string, layers: string[]): Promise<void> {
  await push(call, "old", tag, layers);
  clock.advance(1000);
  expect((await call("DELETE", `old/manifests/${tag}`)).status).toBe(202);
  clock.advance(PAST_WINDOW);
}

/** Every blob of every manifest an alive tag points at: placed, and its object hashes to its digest. */
async function expectLiveBlobsIntact(): Promise<number> {
  const { rows } = await scene.origin.registry.sql.query<{ digest: string; placed: boolean }>(
    `SELECT DISTINCT s.content_checksum AS digest, EXISTS (SELECT 1 FROM imagestorageplacement p WHERE p.storage_id = s.id) AS placed
     FROM tag t JOIN manifestblob mb ON mb.manifest_id = t.manifest_id JOIN imagestorage s ON s.id = mb.blob_id
     WHERE t.lifetime_end_ms IS NULL OR t.lifetime_end_ms > $1`,
    [clock.now()],
  );
  const missing: string[] = [];
  for (const row of rows) {
    const read = row.placed ? await scene.origin.registry.blobs.get(blobKey(row.digest)!) : null;
    if (read === null) {
      missing.push(row.digest);
      continue;
    }
    const hash = createHash("sha256");
    for await (const chunk of read.body as unknown as AsyncIterable<Uint8Array>) hash.update(chunk);
    if (`sha256:${hash.digest("hex")}` !== row.digest) missing.push(`${row.digest} (wrong bytes)`);
  }
  expect(missing).toEqual([]);
  return rows.length;
}

let plain: Caller;

beforeAll(async () => {
  scene = await startPushScene("gcraces", { clock });
  const { rows } = await scene.origin.registry.sql.query<{ id: number }>(`SELECT namespace_user_id AS id FROM repository WHERE id = $1`, [
    scene.repoId,
  ]);
  for (const name of REPOSITORIES) await createRepository(scene.origin.registry, rows[0]!.id, name);
  await scene.origin.registry.sql.query(`UPDATE "user" SET removed_tag_expiration_s = 60 WHERE id = $1`, [rows[0]!.id]);
  // The instance key would expire as the fake clock runs ahead; refreshing it is not part of this test.
  await scene.origin.registry.sql.query(`UPDATE servicekey SET expiration_date = NULL`);
  plain = callerFor(scene.origin.registry);
}, 60_000);
afterAll(() => scene?.origin.close());

describe("GC racing writers", () => {
  it("loses nothing when GC runs right before each transaction of uploads, mounts and manifest PUTs", async () => {
    const sql = scene.origin.registry.sql;
    // The pushing registry runs a whole GC pass before every transaction it opens.
    const gcFirst: Sql = {
      query: (text, params) => sql.query(text, params),
      transaction: async (fn) => {
        await gcUntilSettled();
        return sql.transaction(fn);
      },
      close: () => sql.close(),
    };
    const racing = callerFor({ ...scene.origin.registry, sql: gcFirst });
    for (let round = 0; round < 6; round++) {
      const shared = `shared ${round} ${crypto.randomUUID()}`;
      await expiredImage(plain, `r${round}`, [shared, `old only ${round} ${crypto.randomUUID()}`]);
      // The expired image's layers are GC's to take, and the push wants the shared one back.
      await push(racing, "new", `r${round}`, [shared, `new only ${round} ${crypto.randomUUID()}`]);
      await push(racing, "mnt", `r${round}`, [shared], "new");
      await gcUntilSettled();
      await expectLiveBlobsIntact();
      for (const repository of ["new", "mnt"]) {
        expect((await plain("HEAD", `${repository}/blobs/${sha256(shared)}`)).status).toBe(200);
        expect((await plain("GET", `${repository}/manifests/r${round}`)).status).toBe(200);
      }
    }
  }, 120_000);

  it("loses nothing with GC passes looping while parallel pushes reuse expired layers", async () => {
    let checked = 0;
    for (let round = 0; round < 6; round++) {
      const shared = [0, 1, 2].map((n) => `loop ${round} ${n} ${crypto.randomUUID()}`);
      await expiredImage(plain, `loop${round}`, shared);
      let pushing = true;
      const gcLoop = (async () => {
        while (pushing) await collectGarbage(scene.origin.registry, quiet);
      })();
      await Promise.all(
        ["p0", "p1", "p2"].map((repository, n) =>
          push(plain, repository, `loop${round}`, [shared[n]!, shared[(n + 1) % 3]!, `${repository} own ${crypto.randomUUID()}`]),
        ),
      ).finally(() => {
        pushing = false;
      });
      await gcLoop;
      await gcUntilSettled();
      checked = await expectLiveBlobsIntact();
    }
    expect(checked).toBeGreaterThan(0);
  }, 120_000);
});
