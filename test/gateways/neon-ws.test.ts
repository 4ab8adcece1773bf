/**
 * The local Neon WebSocket proxy: the real driver's Client and Pool through it, and
 * the byte pipe itself against a TCP server of the test's own (fidelity, closes in
 * both directions, refusals).
 */
import type { EventEmitter } from "node:events";
import net, { type AddressInfo } from "node:net";
import { Client, neonConfig, Pool } from "@neondatabase/serverless";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { startNeonWsProxy, type NeonWsProxy } from "../../scripts/gateways/neon-ws.js";
import { createTestDatabase, POSTGRES_ADMIN_URL, type TestDatabase } from "../support/services.js";

/** A loopback TCP server that records its connections, standing in for Postgres. */
async function tcpServer(): Promise<{ port: number; sockets: net.Socket[]; close(): Promise<void> }> {
  const sockets: net.Socket[] = [];
  const server = net.createServer((socket) => {
    socket.on("error", () => {});
    sockets.push(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    sockets,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** The arguments of `event`'s next emission (unlike events.once, an `error` meanwhile does not reject). */
function until<T>(emitter: EventEmitter, event: string): Promise<T[]> {
  return new Promise((resolve) => emitter.once(event, (...args: T[]) => resolve(args)));
}

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The HTTP status the proxy answers an upgrade with, or "open". */
function upgradeStatus(url: string): Promise<number | "open"> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.on("error", () => {});
    ws.on("open", () => {
      ws.terminate();
      resolve("open");
    });
    ws.on("unexpected-response", (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
  });
}

describe("Neon WebSocket proxy", () => {
  let proxy: NeonWsProxy;
  let db: TestDatabase;
  let admin: pg.Client;
  const backendAlive = async (pid: number) => (await admin.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1", [pid])).rowCount === 1;

  beforeAll(async () => {
    db = await createTestDatabase("neonws");
    proxy = await startNeonWsProxy({});
    admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
    await admin.connect();
    neonConfig.webSocketConstructor = WebSocket;
    neonConfig.wsProxy = (host, port) => `127.0.0.1:${proxy.port}/v1?address=${host}:${port}`;
    neonConfig.useSecureWebSocket = false;
    neonConfig.pipelineConnect = false;
    neonConfig.pipelineTLS = false;
  });

  afterAll(async () => {
    await proxy?.close();
    await admin?.end();
    await db?.drop();
  });

  describe("with the driver", () => {
    it("carries a Client's session, types included, and end() closes the backend", async () => {
      const client = new Client(db.url);
      client.on("error", () => {});
      await client.connect();
      const { rows } = await client.query(
        "SELECT $1::int8 AS big, $2::bytea AS raw, $3::jsonb AS doc, $4::timestamptz AS at, $5::text[] AS list, NULL::int AS nothing",
        ["9007199254740993", Buffer.from([0, 255, 10]), { a: "☃" }, new Date("2026-01-02T03:04:05.678Z"), ["x", null]],
      );
      expect(rows[0]).toEqual({
        big: "9007199254740993",
        raw: Buffer.from([0, 255, 10]),
        doc: { a: "☃" },
        at: new Date("2026-01-02T03:04:05.678Z"),
        list: ["x", null],
        nothing: null,
      });
      const pid = (await client.query("SELECT pg_backend_pid() AS pid")).rows[0].pid as number;
      expect(await backendAlive(pid)).toBe(true);
      await client.end();
      await waitFor(async () => !(await backendAlive(pid)));
    });

    it("serves a Pool's interactive transactions", async () => {
      const pool = new Pool({ connectionString: db.url, max: 2 });
      pool.on("error", () => {});
      await pool.query("CREATE TABLE notes (id SERIAL PRIMARY KEY, body TEXT NOT NULL)");
      const client = await pool.connect();
      await client.query("BEGIN");
      await client.query("INSERT INTO notes (body) VALUES ($1)", ["kept"]);
      expect((await pool.query("SELECT count(*)::int AS n FROM notes")).rows).toEqual([{ n: 0 }]);
      await client.query("COMMIT");
      await client.query("BEGIN");
      await client.query("INSERT INTO notes (body) VALUES ($1)", ["dropped"]);
      await client.query("ROLLBACK");
      client.release();
      expect((await pool.query("SELECT body FROM notes")).rows).toEqual([{ body: "kept" }]);
      await pool.end();
    });

    it("closes the WebSocket when Postgres ends the session, without unhandled errors", async () => {
      const client = new Client(db.url);
      const errors: Error[] = [];
      client.on("error", (error) => errors.push(error));
      await client.connect();
      const pid = (await client.query("SELECT pg_backend_pid() AS pid")).rows[0].pid as number;
      const ended = until(client, "end");
      await admin.query("SELECT pg_terminate_backend($1)", [pid]);
      await ended;
      expect(errors.map((e) => e.message).join()).toContain("terminating connection due to administrator command");
      await expect(client.query("SELECT 1")).rejects.toThrow();
    });

    it("lets a Pool survive the server killing its idle connections", async () => {
      const pool = new Pool({ connectionString: db.url, max: 1 });
      const poolErrors = until<Error>(pool, "error");
      const pid = (await pool.query("SELECT pg_backend_pid() AS pid")).rows[0].pid as number;
      await admin.query("SELECT pg_terminate_backend($1)", [pid]);
      const [error] = await poolErrors;
      expect(error!.message).toContain("terminating connection");
      pool.on("error", () => {});
      expect((await pool.query("SELECT 2 AS n")).rows).toEqual([{ n: 2 }]);
      await pool.end();
    });

    it("refuses a database that is not on this machine", async () => {
      const client = new Client("postgres://postgres@10.1.2.3:5432/postgres");
      client.on("error", () => {});
      await expect(client.connect()).rejects.toBeDefined();
    });
  });

  describe("as a byte pipe", () => {
    const targets: Awaited<ReturnType<typeof tcpServer>>[] = [];
    /** A WebSocket through `through` to a fresh TCP server, and that server's end of it. */
    const open = async (through = proxy) => {
      const target = await tcpServer();
      targets.push(target);
      const ws = new WebSocket(`ws://127.0.0.1:${through.port}/v1?address=127.0.0.1:${target.port}`);
      ws.on("error", () => {});
      await until(ws, "open");
      await waitFor(() => target.sockets.length > 0);
      return { ws, tcp: target.sockets[0]!, port: target.port };
    };

    afterEach(async () => {
      await Promise.all(targets.splice(0).map((target) => target.close()));
    });

    it("passes every byte value both ways in binary frames", async () => {
      const { ws, tcp } = await open();
      const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      const received = until<Buffer>(tcp, "data");
      ws.send(all);
      expect(Buffer.compare((await received)[0]!, all)).toBe(0);
      const back = until<Buffer | boolean>(ws, "message");
      tcp.write(all.reverse());
      const [data, isBinary] = await back;
      expect(isBinary).toBe(true);
      expect(Buffer.compare(data as Buffer, all)).toBe(0);
      ws.close();
    });

    it("closes the WebSocket when the TCP side closes", async () => {
      const { ws, tcp } = await open();
      const closed = until<number>(ws, "close");
      tcp.end();
      expect((await closed)[0]).toBe(1000);
    });

    it("ends the TCP connection when the WebSocket closes, after delivering what was sent", async () => {
      const { ws, tcp } = await open();
      const chunks: Buffer[] = [];
      tcp.on("data", (chunk: Buffer) => chunks.push(chunk));
      const ended = until(tcp, "end");
      ws.send(Buffer.from("last words"));
      ws.close();
      await ended;
      expect(Buffer.concat(chunks).toString()).toBe("last words");
    });

    it("closes the WebSocket when the TCP side is reset", async () => {
      const { ws, tcp } = await open();
      const closed = until<number>(ws, "close");
      tcp.resetAndDestroy();
      expect((await closed)[0]).toBe(1011);
    });

    it("closes the WebSocket when nothing listens at the address", async () => {
      const gone = await tcpServer();
      await gone.close();
      const ws = new WebSocket(`ws://127.0.0.1:${proxy.port}/v1?address=127.0.0.1:${gone.port}`);
      ws.on("error", () => {});
      expect((await until<number>(ws, "close"))[0]).toBe(1011);
    });

    it("refuses addresses off this machine, malformed ones and other paths", async () => {
      const { port } = await open();
      const base = `ws://127.0.0.1:${proxy.port}`;
      expect(await upgradeStatus(`${base}/v1?address=localhost:${port}`)).toBe("open");
      for (const address of [
        "10.1.2.3:5432",
        "db.example.com:5432",
        "127.0.0.1.example.com:5432",
        "127.0.0.1",
        "127.0.0.1:0",
        "127.0.0.1:70000",
        "",
      ]) {
        expect(await upgradeStatus(`${base}/v1?address=${address}`), address).toBe(403);
      }
      expect(await upgradeStatus(`${base}/v1`)).toBe(403);
      expect(await upgradeStatus(`${base}/v2?address=127.0.0.1:${port}`)).toBe(404);
      expect((await fetch(`http://127.0.0.1:${proxy.port}/v1`)).status).toBe(426);
    });

    it("terminates open sockets on close()", async () => {
      const own = await startNeonWsProxy({});
      const { ws, tcp } = await open(own);
      const wsClosed = until(ws, "close");
      const tcpClosed = until(tcp, "close");
      await own.close();
      await Promise.all([wsClosed, tcpClosed]);
      expect(ws.readyState).toBe(WebSocket.CLOSED);
    });
  });
});
