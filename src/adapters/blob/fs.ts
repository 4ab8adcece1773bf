/**
 * Filesystem blob store (embedded mode, and the origin without S3): one file per key
 * under `root`, like Quay's LocalStorage. Writes land in a temp file that is renamed
 * into place, so a reader never sees a partial object; multipart uploads keep their
 * parts in a hidden folder under root. Keys are checked so none can leave root.
 */
import { createHash, randomUUID } from "node:crypto";
import { copyFile, mkdir, open, readdir, readFile, rename, rm, stat, unlink, writeFile, type FileHandle } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import type { BlobListing, BlobRead, BlobStore, ByteRange, UploadedPart } from "../../core/ports/blob-store.js";
import { removeUntouchedEntries } from "./fs-sweep.js";

/** Holds temp files and multipart parts; never a key's first segment. */
const HIDDEN = ".pier";
const CHUNK = 256 * 1024;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export type FsBlobErrorCode = "InvalidKey" | "NoSuchKey" | "NoSuchUpload" | "InvalidPart" | "InvalidPartOrder" | "SizeMismatch";

/** A refused key or a multipart/copy failure, with a code callers can map (the S3 gateway does). */
export class FsBlobError extends Error {
  constructor(
    readonly code: FsBlobErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "FsBlobError";
  }
}

export interface FsBlobStoreOptions {
  root: string;
  /** fsync each object before it is renamed into place (slower, survives power loss). */
  fsync?: boolean;
}

function missing(error: unknown): boolean {
  const code = (error as { code?: string }).code;
  return code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR";
}

/** Byte order of UTF-8, which is S3's listing order. */
function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** The bytes a range asks for; RangeError when it runs past the end. */
function resolveRange(range: ByteRange | undefined, size: number): { offset: number; length: number } {
  const offset = range?.offset ?? 0;
  const length = range?.length ?? size - offset;
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
    throw new RangeError(`range ${offset}+${range?.length ?? "rest"} is outside the object's ${size} bytes`);
  }
  return { offset, length };
}

function normalEtag(etag: string): string {
  return etag.replace(/^"|"$/g, "");
}

/** Blob store over a local directory; see the file header. */
export function fsBlobStore(options: FsBlobStoreOptions): BlobStore {
  const root = resolve(options.root);
  const tmpDir = join(root, HIDDEN, "tmp");
  const uploadsDir = join(root, HIDDEN, "multipart");

  function pathOf(key: string): string {
    const segments = key.split("/");
    const path = resolve(root, key);
    if (
      key.length > 1024 ||
      key.includes("\0") ||
      segments[0] === HIDDEN ||
      segments.some((s) => s === "" || s === "." || s === "..") ||
      !path.startsWith(root + sep)
    ) {
      throw new FsBlobError("InvalidKey", `invalid blob key ${JSON.stringify(key)}`);
    }
    return path;
  }

  async function tempFile(): Promise<string> {
    await mkdir(tmpDir, { recursive: true });
    return join(tmpDir, randomUUID());
  }

  /**
   * Streams exactly `size` bytes into a new file at `path`; returns their SHA-256 (hex), a
   * part's opaque ETag. Not MD5 as S3's: OpenSSL's FIPS provider refuses MD5 (PIER_FIPS).
   */
  async function writeExactly(path: string, body: ReadableStream<Uint8Array>, size: number): Promise<string> {
    const reader = body.getReader();
    const digest = createHash("sha256");
    let handle: FileHandle | undefined;
    let written = 0;
    try {
      handle = await open(path, "wx");
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        written += value.byteLength;
        if (written > size) throw new FsBlobError("SizeMismatch", `body has ${written}+ bytes, ${size} were declared`);
        digest.update(value);
        for (let at = 0; at < value.byteLength;) at += (await handle.write(value, at)).bytesWritten;
      }
      if (written !== size) throw new FsBlobError("SizeMismatch", `body has ${written} bytes, ${size} were declared`);
      if (options.fsync) await handle.sync();
      await handle.close();
      return digest.digest("hex");
    } catch (error) {
      await reader.cancel().catch(() => {});
      await handle?.close().catch(() => {});
      await rm(path, { force: true });
      throw error;
    }
  }

  async function moveInto(temp: string, target: string): Promise<void> {
    try {
      await mkdir(dirname(target), { recursive: true });
      await rename(temp, target);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }

  function readStream(handle: FileHandle, offset: number, length: number): ReadableStream<Uint8Array> {
    let position = offset;
    const end = offset + length;
    return new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          if (position >= end) {
            await handle.close();
            controller.close();
            return;
          }
          const buffer = new Uint8Array(Math.min(CHUNK, end - position));
          const { bytesRead } = await handle.read(buffer, 0, buffer.byteLength, position);
          if (bytesRead === 0) throw new Error("blob file shrank while being read");
          position += bytesRead;
          controller.enqueue(buffer.subarray(0, bytesRead));
        } catch (error) {
          await handle.close().catch(() => {});
          controller.error(error);
        }
      },
      cancel: () => handle.close(),
    });
  }

  function uploadDir(uploadId: string): string {
    if (!UUID.test(uploadId)) throw new FsBlobError("NoSuchUpload", `no multipart upload ${JSON.stringify(uploadId)}`);
    return join(uploadsDir, uploadId);
  }

  /** The upload's folder, after checking it exists and belongs to `key`. */
  async function openUpload(key: string, uploadId: string): Promise<string> {
    const dir = uploadDir(uploadId);
    const owner = await readFile(join(dir, "key"), "utf8").catch((error: unknown) => {
      if (missing(error)) return null;
      throw error;
    });
    if (owner !== key) throw new FsBlobError("NoSuchUpload", `no multipart upload ${uploadId} for ${key}`);
    return dir;
  }

  return {
    async stat(key) {
      try {
        const info = await stat(pathOf(key));
        return info.isFile() ? { size: info.size } : null;
      } catch (error) {
        if (missing(error)) return null;
        throw error;
      }
    },

    async get(key, range): Promise<BlobRead | null> {
      let handle: FileHandle;
      try {
        handle = await open(pathOf(key), "r");
      } catch (error) {
        if (missing(error)) return null;
        throw error;
      }
      try {
        const info = await handle.stat();
        if (!info.isFile()) {
          await handle.close();
          return null;
        }
        const wanted = resolveRange(range, info.size);
        return { body: readStream(handle, wanted.offset, wanted.length), size: info.size, ...(range ? { range: wanted } : {}) };
      } catch (error) {
        await handle.close().catch(() => {});
        throw error;
      }
    },

    async put(key, body, size) {
      const target = pathOf(key);
      const temp = await tempFile();
      await writeExactly(temp, body, size);
      await moveInto(temp, target);
    },

    async delete(key) {
      try {
        await unlink(pathOf(key));
      } catch (error) {
        if (!missing(error)) throw error;
      }
    },

    async copy(from, to) {
      const source = pathOf(from);
      const target = pathOf(to);
      const temp = await tempFile();
      try {
        await copyFile(source, temp);
        if (options.fsync) {
          const copied = await open(temp, "r+");
          await copied.sync().finally(() => copied.close());
        }
      } catch (error) {
        await rm(temp, { force: true });
        if (missing(error)) throw new FsBlobError("NoSuchKey", `no blob at ${from}`);
        throw error;
      }
      await moveInto(temp, target);
    },

    async list(prefix, listOptions = {}): Promise<BlobListing> {
      const { after } = listOptions;
      const limit = Math.max(1, listOptions.limit ?? 1000);
      const found: BlobListing["keys"] = [];
      // Directories sort as "name/", so a depth-first walk yields keys in lexical order.
      const walk = async (dirKey: string): Promise<void> => {
        const entries = await readdir(join(root, dirKey), { withFileTypes: true }).catch((error: unknown) => {
          if (missing(error)) return [];
          throw error;
        });
        const items = entries
          .filter((e) => (e.isFile() || e.isDirectory()) && !(dirKey === "" && e.name === HIDDEN))
          .map((e) => ({ key: dirKey + e.name + (e.isDirectory() ? "/" : ""), dir: e.isDirectory() }))
          .sort((a, b) => compareKeys(a.key, b.key));
        for (const item of items) {
          if (found.length > limit) return;
          if (item.dir) {
            const underPrefix = item.key.startsWith(prefix) || prefix.startsWith(item.key);
            const allBeforeAfter = after !== undefined && compareKeys(item.key, after) < 0 && !after.startsWith(item.key);
            if (underPrefix && !allBeforeAfter) await walk(item.key);
          } else if (item.key.startsWith(prefix) && (after === undefined || compareKeys(item.key, after) > 0)) {
            const info = await stat(join(root, item.key)).catch(() => null);
            if (info) found.push({ key: item.key, size: info.size, lastModified: info.mtime });
          }
        }
      };
      await walk("");
      if (found.length <= limit) return { keys: found };
      const keys = found.slice(0, limit);
      return { keys, next: keys[keys.length - 1]!.key };
    },

    async createMultipart(key) {
      pathOf(key);
      const uploadId = randomUUID();
      const dir = uploadDir(uploadId);
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, "key"), key);
      return uploadId;
    },

    async uploadPart(key, uploadId, partNumber, body, size): Promise<UploadedPart> {
      if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > 10_000) {
        await body.cancel();
        throw new RangeError(`part number ${partNumber} is outside 1..10000`);
      }
      const dir = await openUpload(key, uploadId).catch(async (error: unknown) => {
        await body.cancel();
        throw error;
      });
      const temp = join(dir, `${randomUUID()}.tmp`);
      const etag = `"${await writeExactly(temp, body, size)}"`;
      try {
        await rename(temp, join(dir, `part-${partNumber}`));
        await writeFile(join(dir, `etag-${partNumber}`), etag);
      } catch (error) {
        await rm(temp, { force: true });
        if (missing(error)) throw new FsBlobError("NoSuchUpload", `multipart upload ${uploadId} was aborted`);
        throw error;
      }
      return { partNumber, etag };
    },

    async completeMultipart(key, uploadId, parts) {
      const target = pathOf(key);
      const dir = await openUpload(key, uploadId);
      if (parts.length === 0 || parts.some((p, i) => i > 0 && p.partNumber <= parts[i - 1]!.partNumber)) {
        throw new FsBlobError("InvalidPartOrder", "parts must be listed in ascending order of part number");
      }
      for (const part of parts) {
        const etag = await readFile(join(dir, `etag-${part.partNumber}`), "utf8").catch(() => null);
        if (etag === null || normalEtag(etag) !== normalEtag(part.etag)) {
          throw new FsBlobError("InvalidPart", `part ${part.partNumber} was not uploaded or its ETag differs`);
        }
      }
      const temp = await tempFile();
      const out = await open(temp, "wx");
      try {
        const buffer = new Uint8Array(CHUNK);
        for (const part of parts) {
          const source = await open(join(dir, `part-${part.partNumber}`), "r");
          try {
            for (let read; (read = (await source.read(buffer, 0, CHUNK, null)).bytesRead) > 0;) {
              for (let at = 0; at < read;) at += (await out.write(buffer, at, read - at)).bytesWritten;
            }
          } finally {
            await source.close();
          }
        }
        if (options.fsync) await out.sync();
      } catch (error) {
        await rm(temp, { force: true });
        throw error;
      } finally {
        await out.close();
      }
      await moveInto(temp, target);
      await rm(dir, { recursive: true, force: true });
    },

    async abortMultipart(key, uploadId) {
      if (!UUID.test(uploadId)) return;
      const dir = uploadDir(uploadId);
      const owner = await readFile(join(dir, "key"), "utf8").catch(() => null);
      if (owner === null) return;
      if (owner !== key) throw new FsBlobError("NoSuchUpload", `no multipart upload ${uploadId} for ${key}`);
      await rm(dir, { recursive: true, force: true });
    },

    sweepAbandoned: (before, limit) => removeUntouchedEntries([tmpDir, uploadsDir], before, limit),
  };
}
