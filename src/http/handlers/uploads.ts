/**
 * Blob uploads: `POST /v2/<name>/blobs/uploads/` (session, monolithic `?digest=`,
 * cross-repository `?mount=&from=`), `PATCH`/`PUT`/`GET`/`DELETE …/uploads/<uuid>`.
 * Bytes are received only where the runtime can hash streams (the Node origin); the
 * edge opens the session and hands out an absolute `Location` on the origin. Clients
 * that keep only the path of a `Location` (the spec allows relative ones) send their
 * bytes to the edge anyway: it answers 307, which keeps method and body, to the origin.
 */
import type { Context } from "hono";
import { RegistryError } from "../../core/errors/registry-error.js";
import { isSupportedAlgorithm, parseDigest } from "../../core/model/digest.js";
import type { DigestAlgorithm } from "../../core/ports/hashing.js";
import { parseRepositoryName } from "../../core/model/names.js";
import { mountBlob } from "../../core/push/mount.js";
import {
  appendChunk,
  cancelUpload,
  completeUpload,
  RangeMismatch,
  startUpload,
  uploadMonolithic,
  uploadStatus,
  type ChunkInput,
  type UploadState,
} from "../../core/push/uploads.js";
import { callerOf, repositoryParam, type AppServices, writeTarget } from "../context.js";
import { publicOrigin } from "../urls.js";

function receivesBytes(services: AppServices): boolean {
  return services.uploads.hashing !== null;
}

/** Where bytes are uploaded: the origin when this runtime does not take them. */
function uploadOrigin(services: AppServices, c: Context): string {
  const { config } = services.registry;
  // The origin and the edge share SERVER_HOSTNAME (token audience): PIER_ORIGIN_URL names the origin itself.
  if (receivesBytes(services)) return config.originUrl ?? publicOrigin(config, c.req.url).origin;
  if (config.originUrl === null) throw new RegistryError("UNSUPPORTED", "this registry instance does not accept uploads");
  return config.originUrl;
}

/**
 * OCI's `Range: 0-<last byte>`. An empty session has no last byte: `0-0` would claim one
 * byte received and Quay's `bytes=0--1` is no range at all, so no Range is sent (clients
 * read only Location from a session without bytes).
 */
function sessionHeaders(services: AppServices, c: Context, name: string, state: UploadState): Record<string, string> {
  return {
    Location: `${uploadOrigin(services, c)}/v2/${name}/blobs/uploads/${state.uuid}`,
    ...(state.size > 0 ? { Range: `0-${state.size - 1}` } : {}),
    "Docker-Upload-UUID": state.uuid,
  };
}

function blobCreated(services: AppServices, c: Context, name: string, digest: string): Response {
  const location = `${publicOrigin(services.registry.config, c.req.url).origin}/v2/${name}/blobs/${digest}`;
  return new Response(null, { status: 201, headers: { Location: location, "Docker-Content-Digest": digest } });
}

/** Runs `receive` counted as an upload in flight. */
async function inFlight<T>(services: AppServices, receive: () => Promise<T>): Promise<T> {
  const gauge = services.observability?.metrics.uploadsInFlight;
  gauge?.add({}, 1);
  try {
    return await receive();
  } finally {
    gauge?.add({}, -1);
  }
}

function chunkInput(c: Context): ChunkInput {
  const length = c.req.header("content-length");
  return {
    body: c.req.raw.body,
    length: length !== undefined && /^\d+$/.test(length) ? Number(length) : null,
    contentRange: c.req.header("content-range"),
  };
}

/**
 * Bytes sent to a runtime that takes none: a 307 to the same path on the origin. Callers
 * check write access first, so a missing token is challenged by this host. The unread
 * body is drained by the edge's middleware, keeping the connection usable.
 */
function redirectBytesToOrigin(services: AppServices, c: Context): Response {
  const url = new URL(c.req.url);
  return new Response(null, { status: 307, headers: { Location: `${uploadOrigin(services, c)}${url.pathname}${url.search}` } });
}

/** OCI's `?digest-algorithm=` on the POST: the session hashes its chunks in it from the start. */
function declaredAlgorithm(c: Context): DigestAlgorithm {
  const algorithm = c.req.query("digest-algorithm");
  if (algorithm === undefined) return "sha256";
  if (!isSupportedAlgorithm(algorithm)) throw new RegistryError("DIGEST_INVALID", "unsupported digest algorithm", { algorithm });
  return algorithm;
}

export function startBlobUpload(services: AppServices) {
  return async function startBlobUpload(c: Context): Promise<Response> {
    const name = repositoryParam(c, services);
    const mount = c.req.query("mount");
    const from = mount ? parseRepositoryName(c.req.query("from") ?? "", services.registry.config.libraryNamespace) : null;
    const target = await writeTarget(c, services, name, from);
    if (mount && from) {
      const digest = parseDigest(mount);
      if (digest && (await mountBlob(services.uploads, services.registry.config, callerOf(c), target, from, digest))) {
        return blobCreated(services, c, name.full, digest.text);
      }
    }
    const digest = c.req.query("digest");
    if (digest) {
      if (!receivesBytes(services)) return redirectBytesToOrigin(services, c);
      const stored = await inFlight(services, () => uploadMonolithic(services.uploads, target, digest, chunkInput(c)));
      return blobCreated(services, c, name.full, stored.text);
    }
    const state = await startUpload(services.uploads, target, declaredAlgorithm(c));
    return new Response(null, { status: 202, headers: sessionHeaders(services, c, name.full, state) });
  };
}

export function patchBlobUpload(services: AppServices) {
  return async function patchBlobUpload(c: Context): Promise<Response> {
    const name = repositoryParam(c, services);
    const target = await writeTarget(c, services, name);
    if (!receivesBytes(services)) return redirectBytesToOrigin(services, c);
    try {
      const state = await inFlight(services, () => appendChunk(services.uploads, target, c.req.param("uuid")!, chunkInput(c)));
      return new Response(null, { status: 202, headers: sessionHeaders(services, c, name.full, state) });
    } catch (error) {
      if (!(error instanceof RangeMismatch)) throw error;
      return new Response(null, { status: 416, headers: sessionHeaders(services, c, name.full, error.state) });
    }
  };
}

export function putBlobUpload(services: AppServices) {
  return async function putBlobUpload(c: Context): Promise<Response> {
    const name = repositoryParam(c, services);
    const target = await writeTarget(c, services, name);
    if (!receivesBytes(services)) return redirectBytesToOrigin(services, c);
    try {
      const digest = await inFlight(services, () =>
        completeUpload(services.uploads, target, c.req.param("uuid")!, c.req.query("digest"), chunkInput(c)),
      );
      return blobCreated(services, c, name.full, digest.text);
    } catch (error) {
      if (!(error instanceof RangeMismatch)) throw error;
      return new Response(null, { status: 416, headers: sessionHeaders(services, c, name.full, error.state) });
    }
  };
}

export function getBlobUpload(services: AppServices) {
  return async function getBlobUpload(c: Context): Promise<Response> {
    const name = repositoryParam(c, services);
    const target = await writeTarget(c, services, name);
    const state = await uploadStatus(services.uploads, target, c.req.param("uuid")!);
    return new Response(null, { status: 204, headers: sessionHeaders(services, c, name.full, state) });
  };
}

export function deleteBlobUpload(services: AppServices) {
  return async function deleteBlobUpload(c: Context): Promise<Response> {
    const name = repositoryParam(c, services);
    const target = await writeTarget(c, services, name);
    await cancelUpload(services.uploads, target, c.req.param("uuid")!);
    return new Response(null, { status: 204 });
  };
}
