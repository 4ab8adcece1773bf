/**
 * Local stand-in for Neon's WebSocket proxy: `GET /v1?address=HOST:PORT` upgrades to
 * a WebSocket whose binary frames are piped byte for byte to a TCP connection to
 * HOST:PORT (the Postgres wire protocol, which the driver speaks itself). Only
 * loopback addresses are reachable. Each side's close closes the other, so the
 * driver's `Client.end()`, which waits for the socket to close, returns.
 */
import { createServer } from "node:http";
import net, { type AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { WebSocketServer, type RawData, type WebSocket } from "ws";
import { isLoopbackHost } from "./neon-http.js";

/** A running proxy; the driver's `wsProxy` is `127.0.0.1:${port}/v1?address=...`. */
export interface NeonWsProxy {
  port: number;
  close(): Promise<void>;
}

/** Above this many bytes not yet sent to the client, stop reading from Postgres. */
const HIGH_WATER_BYTES = 1024 * 1024;

function refuse(socket: Duplex, status: string, message: string): void {
  socket.end(
    `HTTP/1.1 ${status}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(message)}\r\nConnection: close\r\n\r\n${message}`,
  );
}

/** `HOST:PORT` or `[V6]:PORT` of a loopback address, or undefined. */
function parseAddress(address: string | null): { host: string; port: number } | undefined {
  const match = address?.match(/^(\[[^\]]+\]|[^:]+):(\d{1,5})$/);
  if (!match || !isLoopbackHost(match[1]!)) return undefined;
  const port = Number(match[2]);
  if (port < 1 || port > 65535) return undefined;
  return { host: match[1]!.replace(/^\[(.*)\]$/, "$1"), port };
}

function bridge(ws: WebSocket, target: { host: string; port: number }, live: Set<() => void>): void {
  // Frames that arrive before the TCP connect completes are buffered by the socket.
  const tcp = net.connect(target);
  tcp.setNoDelay(true);
  const terminate = () => {
    ws.terminate();
    tcp.destroy();
  };
  live.add(terminate);

  // The server's default binaryType ("nodebuffer") delivers every message as one Buffer.
  ws.on("message", (data: RawData) => {
    if (!tcp.write(data as Buffer)) {
      ws.pause();
      tcp.once("drain", () => ws.resume());
    }
  });
  tcp.on("data", (chunk: Buffer) => {
    if (ws.readyState !== ws.OPEN) return;
    ws.send(chunk, { binary: true }, () => {
      if (tcp.isPaused() && ws.bufferedAmount < HIGH_WATER_BYTES) tcp.resume();
    });
    if (ws.bufferedAmount >= HIGH_WATER_BYTES) tcp.pause();
  });

  // Postgres closed (Terminate handled, backend killed, refused): close the WebSocket too.
  tcp.on("close", (hadError) => {
    live.delete(terminate);
    if (ws.readyState === ws.OPEN) ws.close(hadError ? 1011 : 1000);
  });
  // The client went away: let Postgres see EOF after what was already written.
  ws.on("close", () => {
    live.delete(terminate);
    tcp.end();
  });
  // Abrupt ends on either side are normal here; `close` follows each of these.
  tcp.on("error", () => {});
  ws.on("error", () => {});
}

/** Starts the WebSocket proxy on 127.0.0.1 (ephemeral port unless given). */
export async function startNeonWsProxy(options: { port?: number }): Promise<NeonWsProxy> {
  const live = new Set<() => void>();
  const wss = new WebSocketServer({ noServer: true });
  const server = createServer((_req, res) => {
    res.writeHead(426, { "Content-Type": "text/plain" }).end("WebSocket upgrade required");
  });
  server.on("upgrade", (req, socket, head) => {
    socket.on("error", () => {});
    const url = new URL(req.url ?? "/", "http://proxy");
    if (url.pathname !== "/v1") return refuse(socket, "404 Not Found", "the proxy lives at /v1?address=HOST:PORT");
    const target = parseAddress(url.searchParams.get("address"));
    if (!target) return refuse(socket, "403 Forbidden", "address must be a loopback HOST:PORT");
    wss.handleUpgrade(req, socket, head, (ws) => bridge(ws, target, live));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    async close() {
      for (const terminate of [...live]) terminate();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      wss.close();
      await closed;
    },
  };
}
