/**
 * `GET`/`HEAD /v2/<name>/blobs/<digest>`. HEAD is answered from metadata alone. GET
 * redirects to a short-lived signed URL where the storage has a signer (Quay: 302),
 * else streams the object, honouring a single `Range`.
 */
import type { Context } from "hono";
import { RegistryError } from "../../core/errors/registry-error.js";
import { unlinkBlob } from "../../core/push/blob-unlink.js";
import type { BlobInfo } from "../../core/resources/blobs.js";
import type { BlobRead } from "../../core/ports/blob-store.js";
import { readStores, type LocationStore } from "../../core/storage-locations.js";
import { callerOf, digestParam, repositoryParam, type AppServices, clientIp, clientRegion } from "../context.js";
import { parseRange } from "../range.js";

const IMMUTABLE = "max-age=31536000";

function metadataHeaders(blob: { digest: string }): Record<string, string> {
  return {
    "Docker-Content-Digest": blob.digest,
    "Content-Type": "application/octet-stream",
    "Accept-Ranges": "bytes",
    "Cache-Control": IMMUTABLE,
  };
}

async function streamBlob(c: Context, stores: readonly LocationStore[], blob: BlobInfo): Promise<Response> {
  const range = parseRange(c.req.header("range"), blob.size);
  const headers = metadataHeaders(blob);
  if (range.kind === "unsatisfiable") {
    return new Response(null, { status: 416, headers: { ...headers, "Content-Range": `bytes */${blob.size}` } });
  }
  // A placement without its object (a lost copy) falls through to the next location.
  let read: BlobRead | null = null;
  for (const store of stores) {
    read = await store.blobs.get(blob.key, range.kind === "range" ? { offset: range.offset, length: range.length } : undefined);
    if (read !== null) break;
  }
  // The row exists but the bytes do not: to the client that is an unknown blob.
  if (read === null) throw new RegistryError("BLOB_UNKNOWN", undefined, { digest: blob.digest });
  if (range.kind === "range") {
    const end = range.offset + range.length - 1;
    return new Response(read.body, {
      status: 206,
      headers: { ...headers, "Content-Length": String(range.length), "Content-Range": `bytes ${range.offset}-${end}/${blob.size}` },
    });
  }
  return new Response(read.body, { status: 200, headers: { ...headers, "Content-Length": String(blob.size) } });
}

export function getBlob(services: AppServices) {
  return async function getBlob(c: Context): Promise<Response> {
    const name = repositoryParam(c, services);
    const digest = digestParam(c, "digest");
    const head = c.req.method === "HEAD";
    const answer = await services.source.blob(callerOf(c), name, digest, { head });
    if (head) {
      const size = answer.kind === "stored" ? answer.blob.size : answer.size;
      return new Response(null, { status: 200, headers: { ...metadataHeaders({ digest: digest.text }), "Content-Length": String(size) } });
    }
    if (answer.kind === "streamed") {
      // Arriving from elsewhere as it is read (a proxy cache fill): whole, whatever the Range.
      const headers = { ...metadataHeaders(answer), "Content-Length": String(answer.size) };
      return new Response(answer.body, { status: 200, headers });
    }
    const blob = answer.blob;
    const { registry } = services;
    // The nearest location holding the blob: the client's region on the edge, else the preference.
    const stores = readStores(registry, blob.locations, clientRegion(c));
    const signer = stores[0]!.signer;
    const location = signer
      ? await signer.sign({
          key: blob.key,
          method: "GET",
          expiresInSeconds: registry.config.redirectExpirySeconds,
          clientIp: clientIp(c) ?? undefined,
          namespace: name.namespace,
          repository: name.repository,
          username: callerOf(c).subject ?? undefined,
        })
      : null;
    if (location === null) return streamBlob(c, stores, blob);
    // No long Cache-Control here (Quay sends a year): the signed URL dies in minutes.
    return new Response(null, { status: 302, headers: { Location: location, "Docker-Content-Digest": blob.digest } });
  };
}

/** `DELETE /v2/<name>/blobs/<digest>`: unlinks the blob from the repository (202); garbage collection reclaims the bytes. */
export function deleteBlob(services: AppServices) {
  return async function deleteBlob(c: Context): Promise<Response> {
    const name = repositoryParam(c, services);
    const digest = digestParam(c, "digest");
    await unlinkBlob({ sql: services.registry.sql, cache: services.pull.cache }, callerOf(c), name, digest);
    return new Response(null, { status: 202 });
  };
}
