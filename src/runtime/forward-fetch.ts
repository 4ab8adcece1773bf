/**
 * `fetch` for passing requests on from the Node runtimes (the strangler front to the
 * legacy registry), over node:http. Node 20's fetch holds on to every chunk of a streamed
 * request body until the request ends (a 400 MiB upload grew the process by ~380 MiB);
 * node:http sends it with backpressure and holds nothing. The edge uses its own fetch.
 */
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { Readable } from "node:stream";

function responseHeaders(incoming: IncomingMessage): Headers {
  const headers = new Headers();
  for (let i = 0; i < incoming.rawHeaders.length; i += 2) headers.append(incoming.rawHeaders[i]!, incoming.rawHeaders[i + 1]!);
  return headers;
}

function hasNoBody(method: string, status: number): boolean {
  return method === "HEAD" || status === 204 || status === 304 || (status >= 100 && status < 200);
}

export function nodeForwardFetch(request: Request): Promise<Response> {
  const url = new URL(request.url);
  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise<Response>((resolve, reject) => {
    const outgoing = send(
      url,
      { method: request.method, headers: Object.fromEntries(request.headers), signal: request.signal },
      (incoming) => {
        const body = hasNoBody(request.method, incoming.statusCode ?? 0) ? null : (Readable.toWeb(incoming) as ReadableStream<Uint8Array>);
        if (body === null) incoming.resume();
        resolve(
          new Response(body, { status: incoming.statusCode, statusText: incoming.statusMessage, headers: responseHeaders(incoming) }),
        );
      },
    );
    outgoing.once("error", reject);
    if (request.body === null) outgoing.end();
    else
      Readable.fromWeb(request.body as import("node:stream/web").ReadableStream)
        .once("error", (error) => outgoing.destroy(error))
        .pipe(outgoing);
  });
}
