/**
 * The blob store port's conformance suite, run against the filesystem store and the
 * S3 store (Node and workerd, through the verifying local S3 server). Large payloads
 * are generated as seeded streams and compared by SHA-256, never held in memory.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BlobStore } from "../../src/core/ports/blob-store.js";
import { blobKey } from "../../src/core/storage-layout.js";
import { expectUnavailableInTime, type FrozenDependency } from "./frozen-dependency.js";

export interface BlobStoreSubject {
  store: BlobStore;
  /** Prefix for every key the suite writes, so runs sharing a bucket never collide. */
  prefix: string;
  /** Present when the store is reached through a fault proxy (runBlobStoreSuite's `faultInjection`). */
  frozen?: FrozenDependency;
  cleanup(): Promise<void>;
}

const MiB = 1024 * 1024;

function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x21f0aaad);
  x = Math.imul(x ^ (x >>> 15), 0x735a2d97);
  return (x ^ (x >>> 15)) >>> 0;
}

/**
 * Deterministic pseudo-random bytes: byte `i` of a seed depends only on (seed, i), so
 * any slice of the sequence can be generated on its own, chunk by chunk.
 */
export function seededBytes(seed: number, offset: number, length: number, chunkSize = 64 * 1024): ReadableStream<Uint8Array> {
  let position = offset;
  const end = offset + length;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (position >= end) return controller.close();
      const chunk = new Uint8Array(Math.min(chunkSize, end - position));
      for (let i = 0; i < chunk.length; i++, position++) {
        chunk[i] = (mix32((Math.floor(position / 4) * 0x9e3779b9 + seed) | 0) >>> ((position % 4) * 8)) & 0xff;
      }
      controller.enqueue(chunk);
    },
  });
}

type DigestStreamClass = new (algorithm: string) => WritableStream<Uint8Array> & { digest: Promise<ArrayBuffer> };

/** SHA-256 of a stream, hashed as it flows: workerd's DigestStream, or node:crypto under Node. */
export async function sha256Hex(stream: ReadableStream<Uint8Array>): Promise<string> {
  const DigestStream = (crypto as unknown as { DigestStream?: DigestStreamClass }).DigestStream;
  if (DigestStream) {
    const sink = new DigestStream("SHA-256");
    await stream.pipeTo(sink);
    return [...new Uint8Array(await sink.digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  }
  const { createHash } = await import("node:crypto");
  const hash = createHash("sha256");
  const reader = stream.getReader();
  for (let read = await reader.read(); !read.done; read = await reader.read()) hash.update(read.value);
  return hash.digest("hex");
}

function bytes(text: string): ReadableStream<Uint8Array> {
  return new Blob([text]).stream();
}

async function text(stream: ReadableStream<Uint8Array>): Promise<string> {
  return new Response(stream).text();
}

/** Registers the suite; `factory` builds a fresh store (and its backing service) once per run. */
export function runBlobStoreSuite(
  name: string,
  factory: () => Promise<BlobStoreSubject>,
  options: { faultInjection?: boolean } = {},
): void {
  describe(`BlobStore port: ${name}`, () => {
    let subject: BlobStoreSubject;
    let store: BlobStore;
    const key = (k: string) => subject.prefix + k;

    async function put(k: string, content: string): Promise<void> {
      await store.put(key(k), bytes(content), new TextEncoder().encode(content).byteLength);
    }

    async function read(k: string, range?: { offset: number; length?: number }) {
      const found = await store.get(key(k), range);
      return found && { text: await text(found.body), size: found.size, range: found.range };
    }

    beforeAll(async () => {
      subject = await factory();
      store = subject.store;
    });
    afterAll(() => subject?.cleanup());

    it("stores, stats and reads back an object", async () => {
      await put("basic/hello", "hello, blob ☃");
      expect(await store.stat(key("basic/hello"))).toEqual({ size: 15 });
      expect(await read("basic/hello")).toEqual({ text: "hello, blob ☃", size: 15, range: undefined });
    });

    it("keeps sha256 and sha512 blobs beside each other under Quay's <algorithm>/<2 hex>/<hex> keys", async () => {
      const sha256 = blobKey(`sha256:${"ab".repeat(32)}`)!;
      const sha512 = blobKey(`sha512:${"ab".repeat(64)}`)!;
      expect([sha256, sha512]).toEqual([`sha256/ab/${"ab".repeat(32)}`, `sha512/ab/${"ab".repeat(64)}`]);
      await put(sha256, "sha256 bytes");
      await put(sha512, "sha512 bytes, longer");
      expect(await read(sha512)).toEqual({ text: "sha512 bytes, longer", size: 20, range: undefined });
      expect(await read(sha256)).toEqual({ text: "sha256 bytes", size: 12, range: undefined });
      expect((await store.list(key("sha512/"))).keys.map((k) => [k.key, k.size])).toEqual([[key(sha512), 20]]);
    });

    it("stores an empty object", async () => {
      await put("basic/empty", "");
      expect(await store.stat(key("basic/empty"))).toEqual({ size: 0 });
      expect(await read("basic/empty")).toEqual({ text: "", size: 0, range: undefined });
      expect(await read("basic/empty", { offset: 0 })).toEqual({ text: "", size: 0, range: { offset: 0, length: 0 } });
    });

    it("answers null for a missing key", async () => {
      expect(await store.stat(key("basic/absent"))).toBeNull();
      expect(await store.get(key("basic/absent"))).toBeNull();
      expect(await store.get(key("basic/absent"), { offset: 1, length: 2 })).toBeNull();
    });

    it("reads byte ranges and refuses ranges past the end", async () => {
      await put("range/digits", "0123456789");
      expect(await read("range/digits", { offset: 2, length: 3 })).toEqual({ text: "234", size: 10, range: { offset: 2, length: 3 } });
      expect(await read("range/digits", { offset: 7 })).toEqual({ text: "789", size: 10, range: { offset: 7, length: 3 } });
      expect(await read("range/digits", { offset: 0, length: 10 })).toEqual({
        text: "0123456789",
        size: 10,
        range: { offset: 0, length: 10 },
      });
      expect(await read("range/digits", { offset: 10 })).toEqual({ text: "", size: 10, range: { offset: 10, length: 0 } });
      expect(await read("range/digits", { offset: 4, length: 0 })).toEqual({ text: "", size: 10, range: { offset: 4, length: 0 } });
      await expect(store.get(key("range/digits"), { offset: 11 })).rejects.toThrow(RangeError);
      await expect(store.get(key("range/digits"), { offset: 8, length: 3 })).rejects.toThrow(RangeError);
      await expect(store.get(key("range/digits"), { offset: 10, length: 1 })).rejects.toThrow(RangeError);
    });

    it("streams a multi-megabyte binary object exactly, whole and by range", async () => {
      const size = 6 * MiB + 123;
      await store.put(key("large/seeded"), seededBytes(1, 0, size), size);
      expect(await store.stat(key("large/seeded"))).toEqual({ size });
      const whole = (await store.get(key("large/seeded")))!;
      expect(whole.size).toBe(size);
      expect(await sha256Hex(whole.body)).toBe(await sha256Hex(seededBytes(1, 0, size)));
      const part = (await store.get(key("large/seeded"), { offset: 1_000_003, length: 2_500_000 }))!;
      expect(part.range).toEqual({ offset: 1_000_003, length: 2_500_000 });
      expect(await sha256Hex(part.body)).toBe(await sha256Hex(seededBytes(1, 1_000_003, 2_500_000)));
    });

    it("replaces objects whole, and a put whose body differs from its size leaves nothing", async () => {
      await put("size/kept", "first version");
      await put("size/kept", "second");
      expect(await read("size/kept")).toEqual({ text: "second", size: 6, range: undefined });

      await expect(store.put(key("size/kept"), bytes("short"), 10)).rejects.toThrow("body has 5 bytes, 10 were declared");
      await expect(store.put(key("size/kept"), bytes("far too long"), 10)).rejects.toThrow(/^body has \d+\+ bytes, 10 were declared$/);
      expect(await read("size/kept")).toEqual({ text: "second", size: 6, range: undefined });

      await expect(store.put(key("size/new-short"), seededBytes(3, 0, 100_000), 100_001)).rejects.toThrow(/were declared/);
      await expect(store.put(key("size/new-long"), seededBytes(3, 0, 100_001), 100_000)).rejects.toThrow(/were declared/);
      expect(await store.stat(key("size/new-short"))).toBeNull();
      expect(await store.stat(key("size/new-long"))).toBeNull();
      expect((await store.list(key("size/"))).keys.map((k) => k.key)).toEqual([key("size/kept")]);
    });

    it("deletes idempotently", async () => {
      await put("delete/me", "bye");
      await store.delete(key("delete/me"));
      expect(await store.stat(key("delete/me"))).toBeNull();
      await store.delete(key("delete/me"));
      await store.delete(key("delete/never-existed"));
    });

    it("copies an object, replacing the target, and refuses a missing source", async () => {
      await put("copy/source", "alpha");
      await put("copy/target", "old content");
      await store.copy(key("copy/source"), key("copy/target"));
      await store.copy(key("copy/source"), key("copy/fresh/nested"));
      expect(await read("copy/target")).toEqual({ text: "alpha", size: 5, range: undefined });
      expect(await read("copy/fresh/nested")).toEqual({ text: "alpha", size: 5, range: undefined });
      expect(await read("copy/source")).toEqual({ text: "alpha", size: 5, range: undefined });
      await expect(store.copy(key("copy/absent"), key("copy/other"))).rejects.toThrow();
      expect(await store.stat(key("copy/other"))).toBeNull();
    });

    it("lists keys under a prefix in byte order, page by page", async () => {
      const names = ["l/cz", "l/a/b", "l/c/d/e", "l/a-b", "l/b", "l/a/c", "lz"];
      for (const [i, n] of names.entries()) await put(n, "x".repeat(i + 1));
      const sorted = ["l/a-b", "l/a/b", "l/a/c", "l/b", "l/c/d/e", "l/cz"].map(key);

      const all = await store.list(key("l/"));
      expect(all.keys.map((k) => k.key)).toEqual(sorted);
      expect(all.next).toBeUndefined();
      expect(all.keys.find((k) => k.key === key("l/b"))!.size).toBe(5);
      for (const entry of all.keys) {
        expect(entry.lastModified).toBeInstanceOf(Date);
        expect(Math.abs(entry.lastModified.getTime() - Date.now())).toBeLessThan(3600_000);
      }

      const pages: string[][] = [];
      let after: string | undefined;
      do {
        const page = await store.list(key("l/"), { after, limit: 2 });
        pages.push(page.keys.map((k) => k.key));
        after = page.next;
      } while (after !== undefined);
      expect(pages).toEqual([sorted.slice(0, 2), sorted.slice(2, 4), sorted.slice(4, 6)]);

      expect((await store.list(key("l/a"))).keys.map((k) => k.key)).toEqual(sorted.slice(0, 3));
      expect((await store.list(key("l/c/"))).keys.map((k) => k.key)).toEqual([key("l/c/d/e")]);
      expect((await store.list(key("l/"), { after: key("l/a/zzz") })).keys.map((k) => k.key)).toEqual(sorted.slice(3));
      expect(await store.list(key("nothing/here/"))).toEqual({ keys: [] });
    });

    it("assembles a multipart upload from streamed parts uploaded out of order", async () => {
      const sizes = [5 * MiB + 1, 5 * MiB, 1000];
      const offsets = [0, sizes[0]!, sizes[0]! + sizes[1]!];
      const total = offsets[2]! + sizes[2]!;
      const target = key("multipart/assembled");
      const uploadId = await store.createMultipart(target);
      const parts = await Promise.all(
        [2, 0, 1].map((i) => store.uploadPart(target, uploadId, i + 1, seededBytes(2, offsets[i]!, sizes[i]!), sizes[i]!)),
      );
      expect(await store.stat(target)).toBeNull();
      await store.completeMultipart(
        target,
        uploadId,
        parts.sort((a, b) => a.partNumber - b.partNumber),
      );
      expect(await store.stat(target)).toEqual({ size: total });
      expect(await sha256Hex((await store.get(target))!.body)).toBe(await sha256Hex(seededBytes(2, 0, total)));
    });

    it("completes only with the uploaded parts' ETags, in ascending order", async () => {
      const target = key("multipart/checked");
      const uploadId = await store.createMultipart(target);
      const first = await store.uploadPart(target, uploadId, 1, bytes("part one"), 8);
      const second = await store.uploadPart(target, uploadId, 2, bytes("part two"), 8);
      await expect(
        store.completeMultipart(target, uploadId, [{ partNumber: 1, etag: '"0123456789abcdef0123456789abcdef"' }]),
      ).rejects.toThrow();
      await expect(store.completeMultipart(target, uploadId, [second, first])).rejects.toThrow();
      await expect(store.completeMultipart(target, uploadId, [first, { partNumber: 3, etag: second.etag }])).rejects.toThrow();
      expect(await store.stat(target)).toBeNull();
      // Completing with a subset of the parts is allowed, as on S3.
      await store.completeMultipart(target, uploadId, [first]);
      expect(await read("multipart/checked")).toEqual({ text: "part one", size: 8, range: undefined });
    });

    it("aborts a multipart upload idempotently, leaving no object", async () => {
      const target = key("multipart/aborted");
      const uploadId = await store.createMultipart(target);
      const part = await store.uploadPart(target, uploadId, 1, bytes("doomed"), 6);
      await store.abortMultipart(target, uploadId);
      await expect(store.completeMultipart(target, uploadId, [part])).rejects.toThrow();
      await expect(store.uploadPart(target, uploadId, 2, bytes("late"), 4)).rejects.toThrow();
      expect(await store.stat(target)).toBeNull();
      await store.abortMultipart(target, uploadId);
    });

    it("refuses a part whose body differs from its size", async () => {
      const target = key("multipart/short-part");
      const uploadId = await store.createMultipart(target);
      await expect(store.uploadPart(target, uploadId, 1, bytes("five!"), 10)).rejects.toThrow(/were declared/);
      await expect(store.uploadPart(target, uploadId, 1, seededBytes(4, 0, 70_000), 60_000)).rejects.toThrow(/were declared/);
      await expect(
        store.completeMultipart(target, uploadId, [{ partNumber: 1, etag: '"00000000000000000000000000000000"' }]),
      ).rejects.toThrow();
      await store.abortMultipart(target, uploadId);
      expect(await store.stat(target)).toBeNull();
    });

    if (options.faultInjection)
      it("fails requests and stalled streams as unavailable in time while storage is frozen, then recovers", async () => {
        const frozen = subject.frozen!;
        const size = 32 * MiB;
        await store.put(key("frozen/big"), seededBytes(7, 0, size), size);
        const download = (await store.get(key("frozen/big")))!;
        const reader = download.body.getReader();
        await reader.read();
        frozen.freeze();
        try {
          await Promise.all([
            expectUnavailableInTime(frozen.timeoutMs, async () => {
              for (;;) if ((await reader.read()).done) return;
            }),
            expectUnavailableInTime(frozen.timeoutMs, () => store.stat(key("frozen/big"))),
            expectUnavailableInTime(frozen.timeoutMs, () => store.get(key("frozen/big"))),
            expectUnavailableInTime(frozen.timeoutMs, () => store.list(key("frozen/"))),
            expectUnavailableInTime(frozen.timeoutMs, () => put("frozen/small", "small")),
            expectUnavailableInTime(frozen.timeoutMs, () => store.put(key("frozen/upload"), seededBytes(8, 0, size), size)),
          ]);
        } finally {
          frozen.pass();
        }
        expect(await store.stat(key("frozen/upload"))).toBeNull();
        await put("frozen/small", "after");
        expect(await read("frozen/small")).toMatchObject({ text: "after" });
        expect(await sha256Hex((await store.get(key("frozen/big")))!.body)).toBe(await sha256Hex(seededBytes(7, 0, size)));
      });
  });
}
