/**
 * `GET`/`HEAD /v2/<name>/manifests/<reference>`: the stored bytes with their media type
 * and digest. HEAD reaches this handler too (Hono serves HEAD with the GET route) and
 * gets the same headers without a body.
 */
import type { Context } from "hono";
import { RegistryError } from "../../core/errors/registry-error.js";
import { parseReference } from "../../core/model/reference.js";
import { parseAccept, readManifest } from "../../core/resources/manifests.js";
import { callerOf, repositoryParam, type AppServices } from "../context.js";

const encoder = new TextEncoder();

export function getManifest(services: AppServices) {
  return async function getManifest(c: Context): Promise<Response> {
    const name = repositoryParam(c, services);
    const raw = c.req.param("reference") ?? "";
    const reference = parseReference(raw);
    if (reference === null) {
      if (raw.includes(":")) throw new RegistryError("DIGEST_INVALID", "invalid digest", { digest: raw });
      throw new RegistryError("MANIFEST_UNKNOWN", undefined, { tag: raw, reason: "not a valid tag" });
    }
    const { manifest } = await readManifest(services.pull, callerOf(c), name, reference, parseAccept(c.req.header("accept")));
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
