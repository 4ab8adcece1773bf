/**
 * Slow and greedy clients against the Node listener, over real sockets on 127.0.0.1:
 * a stalled header is cut off, one address cannot hold more than its share of
 * connections, and a slow upload that keeps sending is never killed.
 */
import { connect, type Socket } from "node:net";
import { Hono } from "hono";
import { afterEach, describe, expect, it } from "vitest";
import { listen, type RunningServer, type ServerLimits } from "../../src/runtime/node-server.js";

const servers: RunningServer[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** An app that counts an upload's bytes as they stream in. */
function app(): Hono {
  const hono = new Hono();
  hono.get("/", (c) => c.text("ok"));
  hono.put("/upload", async (c) => {
    let bytes = 0;
    const reader = c.req.raw.body!.getReader();
    for (let read = await reader.read(); !read.done; read = await reader.read()) bytes += read.value.byteLength;
    return c.text(String(bytes));
  });
  return hono;
}

async function serve(limits: ServerLimits): Promise<number> {
  const server = await listen(app(), { hostname: "127.0.0.1", port: 0, limits });
  servers.push(server);
  return server.port;
}

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => resolve(socket));
    sockets.push(socket);
    socket.once("error", reject);
  });
}

/** Resolves with the ms until the server closed the socket, or rejects after `withinMs`. */
function closedWithin(socket: Socket, withinMs: number): Promise<number> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`still open after ${withinMs} ms`)), withinMs);
    socket.on("error", () => {});
    socket.once("close", () => {
      clearTimeout(timer);
      resolve(Date.now() - started);
    });
    socket.resume();
  });
}

const limits: ServerLimits = {
  headersTimeoutMs: 500,
  idleTimeoutMs: 1_000,
  keepAliveTimeoutMs: 500,
  maxConnectionsPerIp: 3,
  shutdownGraceMs: 1_000,
};

describe("node listener limits", () => {
  it("closes a connection that sends part of a header line and stalls", async () => {
    const port = await serve(limits);
    const socket = await open(port);
    socket.write("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: a");
    expect(await closedWithin(socket, 3_000)).toBeGreaterThan(0);
  });

  it("refuses connections over the per-address cap and takes them again once one closes", async () => {
    const port = await serve({ ...limits, headersTimeoutMs: 10_000, idleTimeoutMs: 10_000 });
    const held = await Promise.all([open(port), open(port), open(port)]);
    const extra = await open(port);
    await closedWithin(extra, 3_000);
    held[0]!.destroy();
    let status = 0;
    for (let attempt = 0; attempt < 20 && status !== 200; attempt++) {
      status = await fetch(`http://127.0.0.1:${port}/`, { headers: { connection: "close" } }).then(
        (r) => r.status,
        () => 0,
      );
      if (status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(200);
  });

  it("keeps a slow upload that keeps sending bytes past every timeout", async () => {
    const port = await serve(limits);
    const socket = await open(port);
    socket.write("PUT /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
    const chunks = 10;
    for (let i = 0; i < chunks; i++) {
      await new Promise((r) => setTimeout(r, 300)); // 3 s in all: 6× the header timeout, 3× the idle timeout
      socket.write(`7\r\nchunk-${i}\r\n`);
    }
    socket.write("0\r\n\r\n");
    let response = "";
    socket.on("data", (data: Buffer) => (response += data.toString()));
    await closedWithin(socket, 3_000);
    expect(response).toMatch(/^HTTP\/1\.1 200/);
    expect(response.endsWith(`\r\n\r\n${7 * chunks}`)).toBe(true);
  });

  it("lets a request in flight finish at shutdown, and cuts off one that outlives the grace period", async () => {
    // Idle sockets live longer than the grace period here, so only the shutdown can cut the stuck one off.
    const server = await listen(app(), { hostname: "127.0.0.1", port: 0, limits: { ...limits, idleTimeoutMs: 10_000 } });
    const quick = await open(server.port);
    quick.write("PUT /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n");
    const stuck = await open(server.port);
    stuck.write("PUT /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
    await new Promise((r) => setTimeout(r, 100));
    let answer = "";
    quick.on("data", (data: Buffer) => (answer += data.toString()));
    stuck.on("error", () => {});
    const started = Date.now();
    const stuckClosedAfter = new Promise<number>((resolve) => stuck.once("close", () => resolve(Date.now() - started)));
    const closing = server.close();
    quick.write("0\r\n\r\n");
    await closedWithin(quick, 3_000);
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    const cutOffAfter = await stuckClosedAfter;
    expect(cutOffAfter).toBeGreaterThanOrEqual(limits.shutdownGraceMs - 50);
    expect(cutOffAfter).toBeLessThan(limits.shutdownGraceMs + 2_000);
    await closing;
  });
});
