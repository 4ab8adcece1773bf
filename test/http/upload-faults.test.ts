/**
 * Blob uploads while a dependency fails: PostgreSQL reset in the middle of a chunk
 * and S3 refusing connections, each through a fault proxy in front of the real service.
 * A chunk counts only once recorded, a retry of the same bytes succeeds, an outage is a
 * 503, and a digest's object is never left holding other bytes.
 */
import { createHash } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { sweepOrphanedUploadObjects } from "../../src/core/jobs/upload-orphans.js";
import { blobKey } from "../../src/core/storage-layout.js";
import type { FaultProxy } from "../support/fault-proxy.js";
import { startPushScene, type PushScene } from "../support/origin-registry.js";
import { createRepository } from "../support/quay-seed.js";
import { sha256Hex } from "../suites/blob-store.js";

let scene: PushScene;
let postgres: FaultProxy;
let s3: FaultProxy;

function digestOf(...parts: Uint8Array[]): string {
  const hash = createHash("sha256");
  for (const part of parts) hash.update(part);
  return `sha256:${hash.digest("hex")}`;
}

async function errorCode(response: Response): Promise<string> {
  return ((await response.json()) as { errors: { code: string }[] }).errors[0]!.code;
}

/** A body that sends `head`, then, once the server has read it, waits for `release()` before sending `tail`. */
function pausedBody(head: Uint8Array, tail: Uint8Array) {
  let release!: () => void;
  let headRead!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const sent = new Promise<void>((resolve) => (headRead = resolve));
  let step = 0;
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (step === 0) controller.enqueue(head);
        else if (step === 1) {
          headRead();
          await released;
          controller.enqueue(tail);
        } else controller.close();
        step++;
      },
    },
    { highWaterMark: 0 },
  );
  return { body, sent, release };
}

beforeAll(async () => {
  scene = await startPushScene("upfaults", { faultProxies: true });
  postgres = scene.origin.faults!.database;
  s3 = scene.origin.faults!.storage;
}, 60_000);
afterEach(() => {
  postgres.pass();
  s3.pass();
});
afterAll(async () => {
  await scene?.origin.close();
});

describe("PostgreSQL reset while a chunk streams", () => {
  it("does not count the chunk: later bytes cannot complete under the digest of both, and a retry of the same bytes works", async () => {
    const first = new Uint8Array(64 * 1024).fill(0x61);
    const second = new Uint8Array(32 * 1024).fill(0x62);
    const start = await scene.call("POST", `/v2/${scene.repo}/blobs/uploads/`);
    const location = start.headers.get("location")!;

    const paused = pausedBody(first.subarray(0, 1000), first.subarray(1000));
    const patching = scene.call("PATCH", location, { body: paused.body, headers: { "content-length": String(first.byteLength) } });
    await paused.sent;
    postgres.down();
    paused.release();
    const failed = await patching;
    expect(failed.status).toBe(503);
    expect(await errorCode(failed)).toBe("UNAVAILABLE");
    postgres.pass();

    // The poisoning sequence: more bytes, then the digest of both.
    expect((await scene.call("PATCH", location, { body: second })).status).toBe(202);
    const poisoned = digestOf(first, second);
    const refused = await scene.call("PUT", `${location}?digest=${poisoned}`);
    expect(refused.status).toBe(400);
    expect(await errorCode(refused)).toBe("DIGEST_INVALID");
    expect(await scene.origin.registry.blobs.stat(blobKey(poisoned)!)).toBeNull();

    // An honest client retries the failed chunk on a new session and finishes.
    const retry = await scene.call("POST", `/v2/${scene.repo}/blobs/uploads/`);
    const failedAgain = pausedBody(first.subarray(0, 1000), first.subarray(1000));
    const patch = scene.call("PATCH", retry.headers.get("location")!, {
      body: failedAgain.body,
      headers: { "content-length": String(first.byteLength) },
    });
    await failedAgain.sent;
    postgres.down();
    failedAgain.release();
    expect((await patch).status).toBe(503);
    postgres.pass();
    const again = await scene.call("PATCH", retry.headers.get("location")!, { body: first, headers: { "content-range": "0-65535" } });
    expect(again.status).toBe(202);
    expect(again.headers.get("range")).toBe("0-65535");
    const more = await scene.call("PATCH", again.headers.get("location")!, { body: second });
    expect(more.headers.get("range")).toBe(`0-${first.byteLength + second.byteLength - 1}`);
    const done = await scene.call("PUT", `${more.headers.get("location")!}?digest=${poisoned}`);
    expect(done.status).toBe(201);
    const stored = await scene.origin.registry.blobs.get(blobKey(poisoned)!);
    expect(stored!.size).toBe(first.byteLength + second.byteLength);
    expect(`sha256:${await sha256Hex(stored!.body)}`).toBe(poisoned);
  }, 30_000);
});

describe("an object that does not match its digest", () => {
  it("is replaced by the next honest upload of that digest, from any repository", async () => {
    const honest = new TextEncoder().encode("the honest bytes of this blob");
    const digest = digestOf(honest);
    const { blobs, sql } = scene.origin.registry;
    const wrong = new TextEncoder().encode("bytes that hash to something else");
    await blobs.put(
      blobKey(digest)!,
      new ReadableStream({
        start(controller) {
          controller.enqueue(wrong);
          controller.close();
        },
      }),
      wrong.byteLength,
    );
    const namespaceId = (await sql.query<{ id: number }>(`SELECT id FROM "user" WHERE username = $1`, [scene.namespace])).rows[0]!.id;
    await createRepository(scene.origin.registry, namespaceId, "elsewhere");
    const token = await scene.origin.token("writer", { [`${scene.namespace}/elsewhere`]: ["pull", "push"] });

    const response = await scene.call("POST", `/v2/${scene.namespace}/elsewhere/blobs/uploads/?digest=${digest}`, { body: honest, token });
    expect(response.status).toBe(201);
    const stored = await blobs.get(blobKey(digest)!);
    expect(stored!.size).toBe(honest.byteLength);
    expect(`sha256:${await sha256Hex(stored!.body)}`).toBe(digest);
  });
});

describe("S3 refusing connections", () => {
  it("answers a PATCH with 503 UNAVAILABLE, not SIZE_INVALID, and the same bytes go through once S3 is back", async () => {
    const bytes = new Uint8Array(4096).fill(7);
    const start = await scene.call("POST", `/v2/${scene.repo}/blobs/uploads/`);
    s3.down();
    const failed = await scene.call("PATCH", start.headers.get("location")!, {
      body: bytes,
      headers: { "content-length": String(bytes.byteLength), "content-range": "0-4095" },
    });
    expect(failed.status).toBe(503);
    expect(await errorCode(failed)).toBe("UNAVAILABLE");
    s3.pass();
    const retried = await scene.call("PATCH", start.headers.get("location")!, {
      body: bytes,
      headers: { "content-length": String(bytes.byteLength), "content-range": "0-4095" },
    });
    expect(retried.status).toBe(202);
    const done = await scene.call("PUT", `${retried.headers.get("location")!}?digest=${digestOf(bytes)}`);
    expect(done.status).toBe(201);
  }, 30_000);
});

describe("a PUT that fails after the digest was computed", () => {
  it("can be retried: the session's hash is read, not used up", async () => {
    const bytes = new Uint8Array(5000).fill(9);
    const start = await scene.call("POST", `/v2/${scene.repo}/blobs/uploads/`);
    const patched = await scene.call("PATCH", start.headers.get("location")!, { body: bytes });
    expect(patched.status).toBe(202);
    const url = `${patched.headers.get("location")!}?digest=${digestOf(bytes)}`;
    s3.down();
    const refused = await scene.call("PUT", url);
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe("UNAVAILABLE");
    s3.pass();
    expect((await scene.call("PUT", url)).status).toBe(201);
    const stored = await scene.origin.registry.blobs.get(blobKey(digestOf(bytes))!);
    expect(`sha256:${await sha256Hex(stored!.body)}`).toBe(digestOf(bytes));
  }, 30_000);
});

describe("orphaned upload bytes", () => {
  it("sweeps a chunk left unrecorded by a PostgreSQL fault once past the grace period, never a live session's chunk", async () => {
    const { registry } = scene.origin;
    const orphaned = await scene.call("POST", `/v2/${scene.repo}/blobs/uploads/`);
    const paused = pausedBody(new Uint8Array(1000).fill(1), new Uint8Array(1000).fill(2));
    const patching = scene.call("PATCH", orphaned.headers.get("location")!, { body: paused.body, headers: { "content-length": "2000" } });
    await paused.sent;
    postgres.down();
    paused.release();
    expect((await patching).status).toBe(503);
    postgres.pass();

    const live = await scene.call("POST", `/v2/${scene.repo}/blobs/uploads/`);
    const chunk = new Uint8Array(3000).fill(3);
    const patched = await scene.call("PATCH", live.headers.get("location")!, { body: chunk });
    expect(patched.status).toBe(202);
    const referenced = async () => {
      const { rows } = await registry.sql.query<{ storage_metadata: string }>(`SELECT storage_metadata FROM blobupload`);
      return rows.flatMap((r) => (JSON.parse(r.storage_metadata) as { chunks: [string][] }).chunks.map((c) => c[0]));
    };
    const stored = async () => (await registry.blobs.list("uploads/")).keys.map((k) => k.key);
    const liveChunks = await referenced();
    const orphans = (await stored()).filter((key) => !liveChunks.includes(key));
    expect(orphans.length).toBeGreaterThan(0);

    const options = { graceMinutes: 60, batchSize: 100 };
    expect(await sweepOrphanedUploadObjects(registry, options)).toBe(0);
    expect(await stored()).toEqual(expect.arrayContaining(orphans));
    const later = { ...registry, clock: { now: () => Date.now() + 2 * 3600_000 } };
    expect(await sweepOrphanedUploadObjects(later, options)).toBe(orphans.length);
    expect((await stored()).sort()).toEqual([...liveChunks].sort());
    expect(await sweepOrphanedUploadObjects(later, options)).toBe(0);

    const done = await scene.call("PUT", `${patched.headers.get("location")!}?digest=${digestOf(chunk)}`);
    expect(done.status).toBe(201);
  }, 30_000);
});
