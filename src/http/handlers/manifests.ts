/**
 * `/v2/<name>/manifests/<reference>`. GET/HEAD: the stored bytes with their media type
 * and digest (HEAD reaches the GET handler — Hono serves HEAD with the GET route — and
 * gets the same headers without a body). PUT: a push, `?tag=` for more tags. DELETE:
 * by digest every tag on the manifest ends, by tag only that tag.
 */
import type { Context } from "hono";
import { RegistryError } from "../../core/errors/registry-error.js";
import { MAX_MANIFEST_BYTES } from "../../core/manifests/parse.js";
import { parseReference, type Reference } from "../../core/model/reference.js";
import { deleteManifest as removeManifest, deleteTag as removeTag, putManifest as writeManifest } from "../../core/push/manifests.js";
import { parseAccept } from "../../core/resources/manifests.js";
import { BodyTooLargeError, readBoundedBody } from "../body.js";
import { callerOf, clientIp, repositoryParam, type AppServices, writeTarget } from "../context.js";

const encoder = new TextEncoder();

export function getManifest(services: AppServices) {
  return async function getManifest(c: Context): Promise<Response> {
    const name = repositoryParam(c, services);
    // No manifest can exist under an invalid tag: a read of one is simply unknown.
    const reference = referenceParam(c, "MANIFEST_UNKNOWN");
    const caller = callerOf(c);
    const { repository, manifest } = await services.source.manifest(caller, name, reference, parseAccept(c.req.header("accept")));
    // Quay logs HEADs too: its HEAD runs the GET view.
    services.pullAudit?.add({
      namespaceId: repository.namespaceId,
      repositoryId: repository.id,
      namespace: name.namespace,
      repository: name.repository,
      performer: caller.subject,
      ip: clientIp(c),
      userAgent: c.req.header("user-agent") ?? "",
      tag: reference.kind === "tag" ? reference.tag : null,
      digest: reference.kind === "digest" ? reference.digest.text : null,
      at: services.registry.clock.now(),
    });
    // Cached tags are evicted least recently pulled first.
    if (repository.proxyUpstream !== null && reference.kind === "tag")
      services.lastPulls?.add(repository.id, reference.tag, services.registry.clock.now());
    const bytes = encoder.encode(manifest.text);
    const headers = {
      "Content-Type": manifest.mediaType,
      "Content-Length": String(bytes.byteLength),
      "Docker-Content-Digest": manifest.digest,
      ETag: `"${manifest.digest}"`,
    };
    return new Response(c.req.method === "HEAD" ? null : bytes, { status: 200, headers });
  };
}

/** The manifest bytes; 413 MANIFEST_INVALID past the spec's cap, without reading on. */
async function manifestBody(c: Context): Promise<Uint8Array> {
  try {
    return await readBoundedBody(c.req.raw, MAX_MANIFEST_BYTES);
  } catch (error) {
    if (!(error instanceof BodyTooLargeError)) throw error;
    throw new RegistryError("MANIFEST_INVALID", undefined, { message: `manifest is larger than ${error.limit} bytes` }, 413);
  }
}

/** The `:reference` param; DIGEST_INVALID for a malformed digest, `invalidTag` for a malformed tag. */
function referenceParam(c: Context, invalidTag: "MANIFEST_UNKNOWN" | "MANIFEST_INVALID"): Reference {
  const raw = c.req.param("reference") ?? "";
  const reference = parseReference(raw);
  if (reference !== null) return reference;
  if (raw.includes(":")) throw new RegistryError("DIGEST_INVALID", "invalid digest", { digest: raw });
  throw new RegistryError(invalidTag, undefined, { tag: raw, reason: "not a valid tag" });
}

export function putManifestHandler(services: AppServices) {
  return async function putManifest(c: Context): Promise<Response> {
    const name = repositoryParam(c, services);
    const reference = referenceParam(c, "MANIFEST_INVALID");
    const target = await writeTarget(c, services, name);
    const pushed = await writeManifest(services.manifestWrites, target, {
      reference,
      contentType: c.req.header("content-type"),
      bytes: await manifestBody(c),
      extraTags: c.req.queries("tag") ?? [],
    });
    const headers = new Headers({ Location: `/v2/${name.full}/manifests/${pushed.digest}`, "Docker-Content-Digest": pushed.digest });
    if (pushed.subject !== null) headers.set("OCI-Subject", pushed.subject);
    if (pushed.quotaWarning !== null) headers.set("Warning", pushed.quotaWarning);
    for (const tag of pushed.tags) headers.append("OCI-Tag", tag);
    return new Response(null, { status: 201, headers });
  };
}

export function deleteManifestHandler(services: AppServices) {
  return async function deleteManifest(c: Context): Promise<Response> {
    const name = repositoryParam(c, services);
    const reference = referenceParam(c, "MANIFEST_INVALID");
    const target = await writeTarget(c, services, name);
    if (reference.kind === "digest") await removeManifest(services.manifestWrites, target, reference.digest);
    else await removeTag(services.manifestWrites, target, reference.tag);
    return new Response(null, { status: 202 });
  };
}
