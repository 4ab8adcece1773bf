/**
 * Blob uploads (OCI distribution "push"): sessions in Quay's `blobupload`, each PATCH
 * streamed to its own `uploads/<uuid>` object (Quay's cloud-storage layout, chunks in
 * storage_metadata), and on completion the bytes moved to the blob's content-addressed
 * key — a server-side copy for a single chunk — then recorded as Quay records blobs.
 *
 * The digest is computed while bytes stream in, in the session's algorithm: sha256, or
 * what `?digest-algorithm=` named on the POST (kept in storage_metadata so any process
 * sees it), or the final digest's when the body comes with it (monolithic). Hash state
 * lives in the process that received the previous chunk; a chunk arriving elsewhere (or
 * after a restart), or a final digest in another algorithm, falls back to re-reading
 * the chunks once at completion.
 */
import { RegistryError } from "../errors/registry-error.js";
import { isSupportedAlgorithm, parseSupportedDigest, type Digest } from "../model/digest.js";
import type { BlobStore } from "../ports/blob-store.js";
import type { Clock } from "../ports/clock.js";
import type { DigestAlgorithm, Hashing, IncrementalHash } from "../ports/hashing.js";
import type { Sql } from "../ports/sql.js";
import type { PullCache } from "../resources/pull-cache.js";
import { blobKey, uploadKey } from "../storage-layout.js";
import {
  deleteBlobUpload,
  findBlobUpload,
  insertBlobUpload,
  linkUploadedBlob,
  recordChunk,
  type BlobUploadRow,
} from "../../db/queries/uploads.js";
import { concatenated, meteredBody, writeObject } from "./objects.js";
import { placeWrittenBlob } from "../blob-placement.js";
import { assertRoomForUpload, type QuotaSettings } from "./quota.js";
import type { PushTarget } from "./target.js";

/** Quay keeps a fresh blob linked to its repository this long (PUSH_TEMP_TAG_EXPIRATION_SEC). */
const UPLOADED_BLOB_LIFETIME_MS = 3600_000;

export interface UploadDeps {
  sql: Sql;
  blobs: BlobStore;
  /** Null where this runtime does not receive blob bytes (the edge): sessions only. */
  hashing: Hashing | null;
  clock: Clock;
  cache: PullCache;
  /** `imagestoragelocation.name` of this registry's storage. */
  location: string;
  /** Hash states of sessions this process is receiving, by upload uuid. */
  hashStates: Map<string, { offset: number; algorithm: DigestAlgorithm; hash: IncrementalHash }>;
  quota: QuotaSettings;
  /** Told how many bytes each stored chunk had (metrics). */
  onBytesReceived?: (bytes: number) => void;
}

type Chunk = [key: string, offset: number, length: number];

/** Quay's `{"chunks": [...]}`, plus the algorithm a client declared when it was not sha256. */
interface SessionMetadata {
  chunks: Chunk[];
  digest_algorithm?: DigestAlgorithm;
}

function metadataOf(upload: BlobUploadRow): SessionMetadata {
  try {
    const parsed = JSON.parse(upload.storage_metadata || "{}") as { chunks?: unknown; digest_algorithm?: unknown };
    const chunks = Array.isArray(parsed.chunks) ? (parsed.chunks as Chunk[]) : [];
    const algorithm = parsed.digest_algorithm;
    return typeof algorithm === "string" && isSupportedAlgorithm(algorithm) ? { chunks, digest_algorithm: algorithm } : { chunks };
  } catch {
    return { chunks: [] };
  }
}

function chunksOf(upload: BlobUploadRow): Chunk[] {
  return metadataOf(upload).chunks;
}

export interface UploadState {
  uuid: string;
  /** Bytes received so far. */
  size: number;
}

async function session(deps: UploadDeps, target: PushTarget, uuid: string): Promise<BlobUploadRow> {
  const upload = /^[0-9a-f-]{36}$/.test(uuid) ? await findBlobUpload(deps.sql, target.id, uuid) : null;
  if (upload === null) throw new RegistryError("BLOB_UPLOAD_UNKNOWN", undefined, { uuid });
  return upload;
}

/**
 * Opens a session hashing in `algorithm` (OCI's `?digest-algorithm=`). A sha256 session
 * keeps Quay's exact storage_metadata; another algorithm is recorded beside the chunks.
 */
export async function startUpload(deps: UploadDeps, target: PushTarget, algorithm: DigestAlgorithm = "sha256"): Promise<UploadState> {
  await assertRoomForUpload(deps.sql, deps.quota, target.namespaceId);
  const uuid = crypto.randomUUID();
  const metadata: SessionMetadata = algorithm === "sha256" ? { chunks: [] } : { chunks: [], digest_algorithm: algorithm };
  await insertBlobUpload(deps.sql, target.id, uuid, deps.location, new Date(deps.clock.now()), JSON.stringify(metadata));
  if (deps.hashing) deps.hashStates.set(uuid, { offset: 0, algorithm, hash: deps.hashing.create(algorithm) });
  return { uuid, size: 0 };
}

function hashing(deps: UploadDeps): Hashing {
  if (deps.hashing === null) throw new RegistryError("UNSUPPORTED", "this registry instance does not receive blob bytes");
  return deps.hashing;
}

export async function uploadStatus(deps: UploadDeps, target: PushTarget, uuid: string): Promise<UploadState> {
  const upload = await session(deps, target, uuid);
  return { uuid, size: Number(upload.byte_count) };
}

/** Parses `Content-Range: <start>-<end>` (Quay's form) or `bytes <start>-<end>`; null when absent. */
export function parseContentRange(header: string | undefined): { start: number; end: number } | null | "invalid" {
  if (header === undefined || header.trim() === "") return null;
  const match = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(header.trim());
  if (!match) return "invalid";
  const start = Number(match[1]);
  const end = Number(match[2]);
  return end < start ? "invalid" : { start, end };
}

export interface ChunkInput {
  body: ReadableStream<Uint8Array> | null;
  /** Content-Length when the client sent one. */
  length: number | null;
  contentRange: string | undefined;
}

/** Thrown for a chunk that does not start where the session ends (HTTP 416). */
export class RangeMismatch extends Error {
  constructor(readonly state: UploadState) {
    super("chunk does not continue the upload");
  }
}

/**
 * Streams one chunk into its own object and records it; returns the new state. The
 * chunk is hashed into a copy of the session's hash, which replaces it only once the
 * chunk is recorded: a chunk that failed never counts, and its bytes can be resent.
 * `finalAlgorithm` is the closing digest's: a first chunk that is also the last is
 * hashed in it.
 */
export async function appendChunk(
  deps: UploadDeps,
  target: PushTarget,
  uuid: string,
  input: ChunkInput,
  finalAlgorithm?: DigestAlgorithm,
): Promise<UploadState> {
  hashing(deps);
  const upload = await session(deps, target, uuid);
  const offset = Number(upload.byte_count);
  const range = parseContentRange(input.contentRange);
  if (range === "invalid") throw new RegistryError("INVALID_REQUEST", "Invalid range header", { "Content-Range": input.contentRange });
  if (range !== null && range.start !== offset) {
    await input.body?.cancel();
    throw new RangeMismatch({ uuid, size: offset });
  }
  const expected = range === null ? input.length : range.end - range.start + 1;
  if (input.body === null || expected === 0) return { uuid, size: offset };

  // A session opened elsewhere (the edge) starts hashing with its first chunk here.
  const metadata = metadataOf(upload);
  const algorithm = finalAlgorithm ?? metadata.digest_algorithm ?? "sha256";
  if (offset === 0 && deps.hashStates.get(uuid)?.algorithm !== algorithm) {
    deps.hashStates.set(uuid, { offset: 0, algorithm, hash: hashing(deps).create(algorithm) });
  }
  const state = deps.hashStates.get(uuid);
  if (state && state.offset !== offset) deps.hashStates.delete(uuid);
  const hash = state && state.offset === offset ? state.hash.copy() : null;
  const body = meteredBody(input.body, expected, hash ? [hash] : []);
  const key = uploadKey(crypto.randomUUID());
  try {
    await writeObject(deps.blobs, key, body.stream, expected);
  } catch (error) {
    await deps.blobs.delete(key).catch(() => {});
    const fault = body.fault();
    if (fault === null) throw new RegistryError("UNAVAILABLE", "blob storage is unavailable; try again later");
    if (range !== null) throw new RangeMismatch({ uuid, size: offset });
    throw new RegistryError("SIZE_INVALID", undefined, { declared: expected });
  }
  deps.onBytesReceived?.(body.bytes());
  const size = offset + body.bytes();
  const recorded = JSON.stringify({ ...metadata, chunks: [...metadata.chunks, [key, offset, body.bytes()]] });
  // When this throws the row may or may not hold the chunk, so its object stays for the orphan sweep.
  if (!(await recordChunk(deps.sql, upload, size, recorded))) {
    // Another request moved the session while this chunk streamed: it does not count.
    await deps.blobs.delete(key).catch(() => {});
    throw new RangeMismatch({ uuid, size: Number((await session(deps, target, uuid)).byte_count) });
  }
  if (hash && state) deps.hashStates.set(uuid, { offset: size, algorithm: state.algorithm, hash });
  return { uuid, size };
}

/** The digest of the objects' bytes one after another, read as a stream. */
async function digestOfObjects(deps: UploadDeps, keys: readonly string[], algorithm: DigestAlgorithm): Promise<string> {
  const hash = hashing(deps).create(algorithm);
  const reader = concatenated(deps.blobs, keys).getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return hash.digest();
    hash.update(value);
  }
}

/** Removes a session's chunk objects and row. */
async function discard(deps: UploadDeps, upload: BlobUploadRow): Promise<void> {
  deps.hashStates.delete(upload.uuid);
  await Promise.all(chunksOf(upload).map(([key]) => deps.blobs.delete(key)));
  await deleteBlobUpload(deps.sql, upload.id);
}

export async function cancelUpload(deps: UploadDeps, target: PushTarget, uuid: string): Promise<void> {
  await discard(deps, await session(deps, target, uuid));
}

/** True when the object at `key` has exactly `size` bytes hashing to `digest`. */
async function holds(deps: UploadDeps, key: string, digest: Digest, size: number, rehash: boolean): Promise<boolean> {
  const stat = await deps.blobs.stat(key);
  if (stat === null || stat.size !== size) return false;
  if (!rehash) return true;
  try {
    // completeUpload admits only the algorithms Hashing has.
    return (await digestOfObjects(deps, [key], digest.algorithm as DigestAlgorithm)) === digest.text;
  } catch (error) {
    // GC removed it while it was read: not held, so it is written again.
    if ((await deps.blobs.stat(key)) === null) return false;
    throw error;
  }
}

/**
 * Moves verified bytes to the blob's key and records the blob for the repository. An
 * object already at the key is trusted only once re-hashed (a store fault may have left
 * other bytes there), and the written object is checked: its length always, its digest
 * when `rehash` (the digest came from re-read chunks, not from the bytes as received).
 */
async function commitBlob(
  deps: UploadDeps,
  target: PushTarget,
  digest: Digest,
  chunks: readonly Chunk[],
  size: number,
  rehash: boolean,
): Promise<void> {
  const key = blobKey(digest.text)!;
  const keys = chunks.map((c) => c[0]);
  const write = async () => {
    if (keys.length === 1) await deps.blobs.copy(keys[0]!, key);
    else await writeObject(deps.blobs, key, concatenated(deps.blobs, keys), size);
    if (!(await holds(deps, key, digest, size, rehash))) {
      // Missing is better than wrong: no reader gets these bytes.
      await deps.blobs.delete(key);
      throw new RegistryError("UNAVAILABLE", "blob storage did not keep the uploaded bytes; try again later");
    }
  };
  if (!(await holds(deps, key, digest, size, true))) await write();
  const now = deps.clock.now();
  // The chunks stay until the blob is recorded, so an object GC removed meanwhile is written again.
  await placeWrittenBlob(deps, { digest: digest.text, size, location: deps.location }, write, (tx, storageId) =>
    linkUploadedBlob(tx, target.id, storageId, new Date(now), new Date(now + UPLOADED_BLOB_LIFETIME_MS)),
  );
  await deps.cache.bump(target.full);
}

/**
 * Finishes a session: an optional last chunk, then the digest check. A mismatch
 * (DIGEST_INVALID) discards the session and stores nothing.
 */
export async function completeUpload(
  deps: UploadDeps,
  target: PushTarget,
  uuid: string,
  digestText: string | undefined,
  last: ChunkInput,
): Promise<Digest> {
  if (!digestText) throw new RegistryError("BLOB_UPLOAD_INVALID", "Missing digest arg on monolithic upload");
  const digest = parseSupportedDigest(digestText);
  if (digest === null) {
    throw new RegistryError("DIGEST_INVALID", "invalid or unsupported digest", { digest: digestText });
  }
  const state = await appendChunk(deps, target, uuid, last, digest.algorithm);
  const upload = await session(deps, target, uuid);
  const chunks = chunksOf(upload);
  const live = deps.hashStates.get(uuid);
  const rebuilt = !(live && live.algorithm === digest.algorithm && live.offset === state.size);
  const keys = chunks.map((c) => c[0]);
  // A copy is finalised, so a retry after a failed commit can read the hash again.
  const computed = rebuilt ? await digestOfObjects(deps, keys, digest.algorithm) : live.hash.copy().digest();
  if (computed !== digest.text) {
    await discard(deps, upload);
    throw new RegistryError("DIGEST_INVALID", undefined, { expected: digest.text, computed });
  }
  try {
    await assertRoomForUpload(deps.sql, deps.quota, target.namespaceId, state.size);
  } catch (error) {
    await discard(deps, upload);
    throw error;
  }
  await commitBlob(deps, target, digest, chunks, state.size, rebuilt);
  await discard(deps, upload);
  return digest;
}

/** `POST …/uploads/?digest=` with the whole blob in the body (OCI's monolithic upload). */
export async function uploadMonolithic(deps: UploadDeps, target: PushTarget, digestText: string, body: ChunkInput): Promise<Digest> {
  const { uuid } = await startUpload(deps, target);
  try {
    return await completeUpload(deps, target, uuid, digestText, body);
  } catch (error) {
    const upload = await findBlobUpload(deps.sql, target.id, uuid);
    if (upload) await discard(deps, upload);
    throw error;
  }
}
