/**
 * Requests the edge cannot finish itself (a proxy-cache fill needs streamed hashing and
 * long upstream reads) are answered by the origin: the request is sent on with its
 * credentials — the origin verifies the same registry tokens — and the origin's answer
 * streams back unchanged, so the client sees the fill's first bytes as they arrive.
 */
import type { Context } from "hono";
import { RegistryError } from "../core/errors/registry-error.js";

/** Hop-by-hop headers (RFC 9110 §7.6.1) and the ones the next hop sets itself. */
const NOT_FORWARDED = [
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
  "content-length",
];

export async function handOffToOrigin(c: Context, originUrl: string | null): Promise<Response> {
  if (originUrl === null) {
    throw new RegistryError("UNAVAILABLE", "this content is not cached yet and the registry's origin is not configured (PIER_ORIGIN_URL)");
  }
  const url = new URL(c.req.url);
  const headers = new Headers(c.req.raw.headers);
  for (const name of NOT_FORWARDED) headers.delete(name);
  headers.set("X-Forwarded-Host", url.host);
  headers.set("X-Forwarded-Proto", url.protocol.replace(":", ""));
  let response: Response;
  try {
    response = await fetch(`${originUrl}${url.pathname}${url.search}`, { method: c.req.method, headers, redirect: "manual" });
  } catch {
    throw new RegistryError("UNAVAILABLE", "the registry's origin is unavailable; try again later");
  }
  const answer = new Headers(response.headers);
  for (const name of ["connection", "keep-alive", "transfer-encoding"]) answer.delete(name);
  return new Response(c.req.method === "HEAD" ? null : response.body, { status: response.status, headers: answer });
}
