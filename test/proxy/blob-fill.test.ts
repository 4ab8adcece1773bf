/**
 * The proxy cache's blob fill against real Redis, the verifying S3 server and a migrated
 * PostgreSQL database. The upstream is a node:http server the tests script (paused and
 * dying bodies, wrong bytes, wrong lengths) and that counts its requests.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { s3BlobStore } from "../../src/adapters/blob/s3.js";
import { redisCache } from "../../src/adapters/cache/redis.js";
import { prefixedCache } from "../../src/core/prefixed-cache.js";
import { nodeHashing } from "../../src/adapters/hashing/node.js";
import { sweepOrphanedUploadObjects } from "../../src/core/jobs/upload-orphans.js";
import { parseDigest, type Digest } from "../../src/core/model/digest.js";
import type { BlobStore } from "../../src/core/ports/blob-store.js";
import type { Cache } from "../../src/core/ports/cache.js";
import { BlobFillError, fillBlob, type BlobFillDeps, type BlobFillRequest } from "../../src/core/proxy/blob-fill.js";
import { blobKey } from "../../src/core/storage-layout.js";
import { startFaultProxy, type FaultProxy } from "../support/fault-proxy.js";
import { startOriginRegistry, type OriginFixture } from "../support/origin-registry.js";
import { digestOf, randomBytes } from "../support/quay-seed.js";
import { REDIS_URL } from "../support/services.js";

const KiB = 1024;

/** What the upstream does for one blob path. */
interface Script {
  body: Uint8Array;
  /** Content-Length to announce; the body's length by default, none (chunked) when null. */
  contentLength?: number | null;
  /** Stop sending at this offset until `release()`, on the first request only. */
  pauseAt?: number;
  /** Destroy the connection at this offset. */
  dieAt?: number;
  requests: number;
  released: boolean;
  release(): void;
  gate: Promise<void>;
}

let fixture: OriginFixture;
let upstream: http.Server;
let upstreamUrl: string;
const scripts = new Map<string, Script>();
/** A second instance: its own Redis connection and S3 client on the same services. */
let otherCache: Cache;
let otherBlobs: BlobStore;
let pending: Promise<void>[] = [];

function script(path: string, body: Uint8Array, options: Partial<Pick<Script, "contentLength" | "pauseAt" | "dieAt">> = {}): Script {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const entry: Script = {
    body,
    ...options,
    requests: 0,
    released: false,
    gate,
    release() {
      entry.released = true;
      release();
    },
  };
  scripts.set(path, entry);
  return entry;
}

async function serve(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
  const entry = scripts.get(request.url ?? "");
  if (!entry) return void response.writeHead(404).end();
  entry.requests++;
  const first = entry.requests === 1;
  const length = entry.contentLength === undefined ? entry.body.byteLength : entry.contentLength;
  response.writeHead(200, length === null ? {} : { "content-length": String(length) });
  const { pauseAt, dieAt } = entry;
  for (let offset = 0; offset < entry.body.byteLength;) {
    if (first && pauseAt !== undefined && offset >= pauseAt && !entry.released) await entry.gate;
    if (dieAt !== undefined && offset >= dieAt) return void response.destroy();
    const stops = [offset + 16 * KiB, entry.body.byteLength];
    if (first && pauseAt !== undefined && pauseAt > offset) stops.push(pauseAt);
    if (dieAt !== undefined && dieAt > offset) stops.push(dieAt);
    const end = Math.min(...stops);
    if (!response.write(entry.body.subarray(offset, end))) await new Promise((resolve) => response.once("drain", resolve));
    offset = end;
  }
  response.end();
}

function deps(overrides: Partial<BlobFillDeps> = {}): BlobFillDeps {
  const { registry } = fixture;
  return {
    blobs: registry.blobs,
    cache: registry.cache,
    hashing: nodeHashing,
    clock: registry.clock,
    sql: registry.sql,
    location: registry.config.storageLocation,
    partBytes: 128 * KiB,
    pollMs: 10,
    background: (work) => void pending.push(work),
    ...overrides,
  };
}

const other = (overrides: Partial<BlobFillDeps> = {}) => deps({ cache: otherCache, blobs: otherBlobs, ...overrides });

/** A fill of `digest` (`size` bytes, as a manifest would say) whose upstream is `path`. */
function request(path: string, digest: Digest, size: number): BlobFillRequest {
  return {
    digest,
    size,
    async open(signal) {
      const response = await fetch(`${upstreamUrl}${path}`, { signal });
      const length = response.headers.get("content-length");
      return { body: response.body!, size: length === null ? null : Number(length) };
    },
  };
}

/** The imagestorage row the proxy creates for a blob it has not fetched yet (no placement, no object). */
async function placeholder(bytes: Uint8Array, algorithm: "sha256" | "sha512" = "sha256"): Promise<Digest> {
  const text = await digestOf(bytes, algorithm);
  await fixture.direct.query(
    `INSERT INTO imagestorage (uuid, image_size, uncompressed_size, uploading, cas_path, content_checksum) VALUES ($1, NULL, NULL, false, true, $2)`,
    [crypto.randomUUID(), text],
  );
  return parseDigest(text)!;
}

async function placements(digest: Digest): Promise<{ rows: number; placed: number; size: string | null }> {
  const { rows } = await fixture.direct.query<{ rows: string; placed: string; size: string | null }>(
    `SELECT count(DISTINCT s.id) AS rows, count(p.id) AS placed, max(s.image_size) AS size
     FROM imagestorage s LEFT JOIN imagestorageplacement p ON p.storage_id = s.id WHERE s.content_checksum = $1`,
    [digest.text],
  );
  return { rows: Number(rows[0]!.rows), placed: Number(rows[0]!.placed), size: rows[0]!.size };
}

async function partObjects(): Promise<string[]> {
  return (await fixture.registry.blobs.list("uploads/proxy-")).keys.map((k) => k.key);
}

async function stored(digest: Digest): Promise<Uint8Array | null> {
  const read = await fixture.registry.blobs.get(blobKey(digest.text)!);
  return read === null ? null : new Uint8Array(await new Response(read.body).arrayBuffer());
}

/** Reads a stream to its end, noting whether `upstream` was still paused at the first byte. */
async function consume(stream: ReadableStream<Uint8Array>, paused: () => boolean = () => false) {
  const chunks: Uint8Array[] = [];
  let firstWhilePaused: boolean | null = null;
  let error: unknown = null;
  const reader = stream.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      firstWhilePaused ??= paused();
      chunks.push(value);
    }
  } catch (caught) {
    error = caught;
  }
  const bytes = new Uint8Array(await new Blob(chunks as Uint8Array<ArrayBuffer>[]).arrayBuffer());
  return { bytes, firstWhilePaused, error };
}

async function settle(): Promise<void> {
  const works = pending;
  pending = [];
  await Promise.all(works);
}

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not reached in time");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

beforeAll(async () => {
  fixture = await startOriginRegistry("fill");
  // A second instance of the same deployment: its own connection, the same keys.
  otherCache = prefixedCache(redisCache({ url: REDIS_URL }), fixture.cachePrefix);
  otherBlobs = s3BlobStore(fixture.s3);
  upstream = http.createServer((req, res) => void serve(req, res));
  await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const entry of scripts.values()) entry.release();
  await settle();
  upstream.closeAllConnections();
  await new Promise((resolve) => upstream.close(resolve));
  await otherCache.close();
  await fixture.close();
});

describe("fillBlob", () => {
  it.each(["sha256", "sha512"] as const)("streams a %s blob, stores it at its key and places its row", async (algorithm) => {
    const bytes = randomBytes(700 * KiB + 3);
    const digest = await placeholder(bytes, algorithm);
    const upstreamScript = script(`/one-${algorithm}`, bytes);

    const { bytes: received, error } = await consume(await fillBlob(deps(), request(`/one-${algorithm}`, digest, bytes.byteLength)));
    await settle();

    expect(error).toBeNull();
    expect(await digestOf(received, algorithm)).toBe(digest.text);
    expect(upstreamScript.requests).toBe(1);
    expect(await placements(digest)).toEqual({ rows: 1, placed: 1, size: String(bytes.byteLength) });
    expect(await digestOf((await stored(digest))!, algorithm)).toBe(digest.text);
    expect(await partObjects()).toEqual([]);
    expect(await fixture.registry.cache.get(`pier:fill:${digest.text}`)).toBeNull();

    // Once committed, later fills (concurrent, on both instances) stream the stored copy without asking the upstream.
    const later = await Promise.all(
      Array.from({ length: 6 }, (_, n) =>
        fillBlob(n % 2 === 0 ? deps({ stallMs: 400 }) : other({ stallMs: 400 }), request(`/one-${algorithm}`, digest, bytes.byteLength)),
      ),
    );
    for (const again of await Promise.all(later.map((stream) => consume(stream)))) {
      expect(again.error).toBeNull();
      expect(await digestOf(again.bytes, algorithm)).toBe(digest.text);
    }
    expect(upstreamScript.requests).toBe(1);
    expect(await placements(digest)).toEqual({ rows: 1, placed: 1, size: String(bytes.byteLength) });
  });
});

describe("single flight", () => {
  it("serves 10 concurrent callers on two instances from one upstream request, each starting before the upstream finished", async () => {
    const bytes = randomBytes(1024 * KiB + 5);
    const digest = await placeholder(bytes);
    const upstreamScript = script("/many", bytes, { pauseAt: 512 * KiB });
    const paused = () => !upstreamScript.released;

    const streams = await Promise.all(
      Array.from({ length: 10 }, (_, i) => fillBlob(i % 2 === 0 ? deps() : other(), request("/many", digest, bytes.byteLength))),
    );
    const firstBytes = new Set<number>();
    const readers = streams.map((stream, i) =>
      consume(stream, () => {
        firstBytes.add(i);
        return paused();
      }),
    );
    await until(() => firstBytes.size === 10);
    upstreamScript.release();
    const results = await Promise.all(readers);
    await settle();

    expect(upstreamScript.requests).toBe(1);
    for (const result of results) {
      expect(result.error).toBeNull();
      expect(result.firstWhilePaused).toBe(true);
      expect(await digestOf(result.bytes)).toBe(digest.text);
    }
    expect(await placements(digest)).toEqual({ rows: 1, placed: 1, size: String(bytes.byteLength) });
    expect(await partObjects()).toEqual([]);
  });

  it("completes the fill for the others when the leader's client goes away", async () => {
    const bytes = randomBytes(600 * KiB);
    const digest = await placeholder(bytes);
    const upstreamScript = script("/cancel", bytes, { pauseAt: 256 * KiB });

    const leader = (await fillBlob(deps(), request("/cancel", digest, bytes.byteLength))).getReader();
    const follower = consume(await fillBlob(other(), request("/cancel", digest, bytes.byteLength)));
    expect((await leader.read()).done).toBe(false);
    await leader.cancel();
    upstreamScript.release();
    const followed = await follower;
    await settle();

    expect(followed.error).toBeNull();
    expect(await digestOf(followed.bytes)).toBe(digest.text);
    expect(upstreamScript.requests).toBe(1);
    expect(await placements(digest)).toEqual({ rows: 1, placed: 1, size: String(bytes.byteLength) });
    expect(await digestOf((await stored(digest))!)).toBe(digest.text);
    expect(await partObjects()).toEqual([]);
  });

  it("errors the followers of a silent leader, and the next request starts a new fill", async () => {
    const bytes = randomBytes(500 * KiB);
    const digest = await placeholder(bytes);
    const upstreamScript = script("/stall", bytes, { pauseAt: 256 * KiB });
    const cacheProxy: FaultProxy = await startFaultProxy({ host: "127.0.0.1", port: Number(new URL(REDIS_URL).port || 6379) });
    const leaderCache = prefixedCache(redisCache({ url: cacheProxy.urlFor(REDIS_URL), commandTimeoutMs: 200 }), fixture.cachePrefix);
    try {
      const leader = consume(await fillBlob(deps({ cache: leaderCache, stallMs: 400 }), request("/stall", digest, bytes.byteLength)));
      let followerStarted = false;
      const follower = consume(
        await fillBlob(other({ stallMs: 400 }), request("/stall", digest, bytes.byteLength)),
        () => (followerStarted = true),
      );
      await until(() => followerStarted);
      cacheProxy.freeze();
      const startedAt = Date.now();
      const followed = await follower;

      expect(followed.error).toBeInstanceOf(BlobFillError);
      expect((followed.error as BlobFillError).kind).toBe("stalled");
      expect(Date.now() - startedAt).toBeGreaterThanOrEqual(300);
      expect(followed.bytes.byteLength).toBeLessThan(bytes.byteLength);

      const fresh = await consume(await fillBlob(other(), request("/stall", digest, bytes.byteLength)));
      expect(fresh.error).toBeNull();
      expect(await digestOf(fresh.bytes)).toBe(digest.text);
      expect(upstreamScript.requests).toBe(2);

      cacheProxy.pass();
      upstreamScript.release();
      expect(await digestOf((await leader).bytes)).toBe(digest.text);
      await settle();
      expect(await placements(digest)).toEqual({ rows: 1, placed: 1, size: String(bytes.byteLength) });
      expect(await partObjects()).toEqual([]);
    } finally {
      cacheProxy.pass();
      upstreamScript.release();
      await settle();
      await leaderCache.close();
      await cacheProxy.close();
    }
  });
});

describe("storage failing during a fill", () => {
  it("still gives the leader's client every byte, errors the followers, commits nothing; the orphan sweep takes the parts", async () => {
    const bytes = randomBytes(600 * KiB);
    const digest = await placeholder(bytes);
    const upstreamScript = script("/storage-down", bytes, { pauseAt: 256 * KiB });
    const storageProxy = await startFaultProxy({ host: "127.0.0.1", port: Number(new URL(fixture.s3.endpoint).port) });
    const leaderBlobs = s3BlobStore({ ...fixture.s3, endpoint: storageProxy.urlFor(fixture.s3.endpoint) }, { timeoutMs: 2_000 });
    try {
      const leader = consume(await fillBlob(deps({ blobs: leaderBlobs }), request("/storage-down", digest, bytes.byteLength)));
      let followerStarted = false;
      const follower = consume(await fillBlob(other(), request("/storage-down", digest, bytes.byteLength)), () => (followerStarted = true));
      await until(() => followerStarted);
      storageProxy.down();
      upstreamScript.release();
      const [led, followed] = await Promise.all([leader, follower]);
      await settle();

      expect(led.error).toBeNull();
      expect(await digestOf(led.bytes)).toBe(digest.text);
      expect(followed.error).toMatchObject({ kind: "storage" });
      expect(await placements(digest)).toEqual({ rows: 1, placed: 0, size: null });
      expect(await stored(digest)).toBeNull();
      // The leader could not delete its parts; they are orphaned uploads/ objects.
      const leftovers = await partObjects();
      expect(leftovers.length).toBeGreaterThan(0);
      const options = { graceMinutes: 60, batchSize: 100 };
      expect(await sweepOrphanedUploadObjects(fixture.registry, options)).toBe(0);
      const later = { ...fixture.registry, clock: { now: () => Date.now() + 2 * 3600_000 } };
      expect(await sweepOrphanedUploadObjects(later, options)).toBe(leftovers.length);
      expect(await partObjects()).toEqual([]);
    } finally {
      upstreamScript.release();
      await settle();
      await storageProxy.close();
    }
  });
});

describe("wrong upstream answers", () => {
  const size = 300 * KiB;
  it.each([
    ["bytes that hash differently", (bytes: Uint8Array) => ({ body: bytes.map((b, i) => (i === 1000 ? b ^ 1 : b)) })],
    [
      "more bytes than the manifest says (no Content-Length)",
      (bytes: Uint8Array) => ({ body: randomBytesAfter(bytes), contentLength: null }),
    ],
    [
      "fewer bytes than the manifest says (no Content-Length)",
      (bytes: Uint8Array) => ({ body: bytes.subarray(0, size - 7), contentLength: null }),
    ],
  ])("%s: the streams error, nothing is stored, and the next call is refused without a download", async (label, answer) => {
    const bytes = randomBytes(size);
    const digest = await placeholder(bytes);
    const path = `/wrong-${label.length}`;
    const { body, contentLength } = answer(bytes) as { body: Uint8Array; contentLength?: number | null };
    const upstreamScript = script(path, body, { contentLength, pauseAt: 200 * KiB });

    const leader = consume(await fillBlob(deps(), request(path, digest, size)));
    const follower = consume(await fillBlob(other(), request(path, digest, size)));
    upstreamScript.release();
    const [led, followed] = await Promise.all([leader, follower]);

    for (const result of [led, followed]) {
      expect(result.error).toBeInstanceOf(BlobFillError);
      expect((result.error as BlobFillError).kind).toBe("wrong-bytes");
      expect(result.bytes.byteLength).toBeLessThan(size);
    }
    await settle();
    expect(await placements(digest)).toEqual({ rows: 1, placed: 0, size: null });
    expect(await stored(digest)).toBeNull();
    expect(await partObjects()).toEqual([]);
    await expect(fillBlob(other(), request(path, digest, size))).rejects.toMatchObject({ kind: "wrong-bytes" });
    expect(upstreamScript.requests).toBe(1);
  });

  it("refuses a Content-Length other than the manifest's size before sending a byte", async () => {
    const bytes = randomBytes(64 * KiB);
    const digest = await placeholder(bytes);
    const upstreamScript = script("/longer", randomBytesAfter(bytes));

    await expect(fillBlob(deps(), request("/longer", digest, bytes.byteLength))).rejects.toMatchObject({ kind: "size-mismatch" });
    await expect(fillBlob(other(), request("/longer", digest, bytes.byteLength))).rejects.toMatchObject({ kind: "size-mismatch" });
    expect(upstreamScript.requests).toBe(1);
    expect(await stored(digest)).toBeNull();
    expect(await placements(digest)).toEqual({ rows: 1, placed: 0, size: null });
  });

  it("errors every stream when the upstream dies mid-body, and commits nothing", async () => {
    const bytes = randomBytes(700 * KiB);
    const digest = await placeholder(bytes);
    const upstreamScript = script("/dies", bytes, { pauseAt: 200 * KiB, dieAt: 400 * KiB });

    const leader = consume(await fillBlob(deps(), request("/dies", digest, bytes.byteLength)));
    const follower = consume(await fillBlob(other(), request("/dies", digest, bytes.byteLength)));
    upstreamScript.release();
    const led = await leader;

    expect(led.error).toMatchObject({ kind: "upstream" });
    expect(led.bytes.byteLength).toBeLessThan(bytes.byteLength);
    // The leader cleans up before its client's stream errors.
    expect(await placements(digest)).toEqual({ rows: 1, placed: 0, size: null });
    expect(await stored(digest)).toBeNull();
    expect(await partObjects()).toEqual([]);
    expect(await fixture.registry.cache.get(`pier:fill:${digest.text}`)).toBeNull();
    expect((await follower).error).toMatchObject({ kind: "upstream" });
    await settle();
  });
});

/** `bytes` followed by a few more. */
function randomBytesAfter(bytes: Uint8Array): Uint8Array {
  const longer = new Uint8Array(bytes.byteLength + 9);
  longer.set(bytes);
  return longer;
}
