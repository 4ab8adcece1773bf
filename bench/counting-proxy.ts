/**
 * A counting HTTP forwarder in front of the upstream registry, for the proxy-cache
 * benchmark only: every request is passed on unchanged (streamed both ways) and
 * counted by method and path, so the report can say how many requests reached the
 * upstream per object and how many response body bytes each key carried.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface CountingProxy {
  /** `127.0.0.1:PORT`, as a cache organization names its upstream. */
  host: string;
  /** Requests seen since the last reset, keyed `METHOD path` (query string dropped). */
  counts(): Map<string, number>;
  /** Response body bytes sent back since the last reset, by the same keys. */
  bytes(): Map<string, number>;
  reset(): void;
  close(): Promise<void>;
}

/** Listens on a free loopback port and forwards to `target` (`host:port`, plain HTTP). */
export async function startCountingProxy(target: string): Promise<CountingProxy> {
  const [targetHost, targetPort] = target.split(":");
  let counts = new Map<string, number>();
  let bytes = new Map<string, number>();
  const server = http.createServer((request, response) => {
    const key = `${request.method} ${new URL(request.url ?? "/", "http://x").pathname}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    const forwarded = http.request(
      { host: targetHost, port: Number(targetPort), method: request.method, path: request.url, headers: request.headers },
      (upstream) => {
        response.writeHead(upstream.statusCode ?? 502, upstream.headers);
        upstream.on("data", (chunk: Buffer) => bytes.set(key, (bytes.get(key) ?? 0) + chunk.byteLength));
        upstream.pipe(response);
      },
    );
    forwarded.on("error", () => response.destroy());
    response.on("close", () => forwarded.destroy());
    request.pipe(forwarded);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    counts: () => new Map(counts),
    bytes: () => new Map(bytes),
    reset: () => {
      counts = new Map();
      bytes = new Map();
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
