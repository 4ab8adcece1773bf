/**
 * Requests the edge cannot finish itself (a proxy-cache fill needs streamed hashing and
 * long upstream reads) are answered by the origin: the request is sent on with its
 * credentials — the origin verifies the same registry tokens — and the origin's answer
 * streams back unchanged, so the client sees the fill's first bytes as they arrive.
 */
import type { Context } from "hono";
import { RegistryError } from "../core/errors/registry-error.js";
import { forwardedRequestHeaders, returnedResponse } from "./forwarding.js";

/** How a runtime reaches its origin: the platform's fetch, or one presenting a client certificate (mutual TLS). */
export type OriginFetch = (request: Request) => Promise<Response>;

export async function handOffToOrigin(c: Context, originUrl: string | null, send: OriginFetch): Promise<Response> {
  if (originUrl === null) {
    throw new RegistryError("UNAVAILABLE", "this content is not cached yet and the registry's origin is not configured (PIER_ORIGIN_URL)");
  }
  const url = new URL(c.req.url);
  const headers = forwardedRequestHeaders(c.req.raw);
  let response: Response;
  try {
    response = await send(new Request(`${originUrl}${url.pathname}${url.search}`, { method: c.req.method, headers, redirect: "manual" }));
  } catch {
    throw new RegistryError("UNAVAILABLE", "the registry's origin is unavailable; try again later");
  }
  return returnedResponse(c.req.method, response);
}
