/**
 * What a hop that passes a request on (the edge to the origin, the strangler front to the
 * legacy Quay) changes in its headers, one way and the other.
 */

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
const NOT_RETURNED = ["connection", "keep-alive", "transfer-encoding"];

/** The request's headers for the next hop, which learns the client's host and scheme from X-Forwarded-*. */
export function forwardedRequestHeaders(request: Request): Headers {
  const url = new URL(request.url);
  const headers = new Headers(request.headers);
  for (const name of NOT_FORWARDED) headers.delete(name);
  headers.set("X-Forwarded-Host", url.host);
  headers.set("X-Forwarded-Proto", url.protocol.replace(":", ""));
  return headers;
}

/** The next hop's answer, streamed back unchanged but for its hop-by-hop headers. */
export function returnedResponse(method: string, response: Response): Response {
  const headers = new Headers(response.headers);
  for (const name of NOT_RETURNED) headers.delete(name);
  return new Response(method === "HEAD" ? null : response.body, { status: response.status, statusText: response.statusText, headers });
}
