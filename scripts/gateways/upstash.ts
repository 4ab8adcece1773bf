/**
 * Local stand-in for Upstash's Redis REST API, so @upstash/redis runs unchanged
 * against the local Redis.
 *
 * `POST /` takes one command as a JSON array (`["SET","k","v","EX",60]`) and answers
 * `{result}` or, with HTTP 400, `{error}`. `POST /pipeline` and `POST /multi-exec`
 * take an array of commands and answer an array of `{result}` / `{error}`; multi-exec
 * runs them inside MULTI/EXEC on a connection of its own. With `Upstash-Encoding:
 * base64` (the client's default) every string in a result is base64 except a
 * top-level `OK`, which is how the client decodes it; integers stay numbers, nil is null.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Redis } from "ioredis";

/** A running gateway; `url` is the client's `url` (UPSTASH_REDIS_REST_URL). */
export interface UpstashGateway {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Where the gateway listens, the token it demands and the Redis it fronts. */
export interface UpstashGatewayOptions {
  port?: number;
  /** The bearer token clients must present (UPSTASH_REDIS_REST_TOKEN). */
  token: string;
  redisUrl: string;
}

type Reply = Buffer | number | null | Error | Reply[];
type Entry = { result: unknown } | { error: string };

const MAX_BODY_BYTES = 10 * 1024 * 1024;
/** Commands that would change the state of the shared connection for every other request. */
const REFUSED = new Set([
  "SUBSCRIBE",
  "PSUBSCRIBE",
  "SSUBSCRIBE",
  "MONITOR",
  "MULTI",
  "EXEC",
  "DISCARD",
  "WATCH",
  "SELECT",
  "QUIT",
  "RESET",
  "HELLO",
  "AUTH",
]);

class RequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  if (Number(req.headers["content-length"] ?? 0) > MAX_BODY_BYTES) throw new RequestError(413, "ERR request body too large");
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new RequestError(413, "ERR request body too large");
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** A command from JSON: a non-empty array of strings, numbers or booleans, sent as their text. */
function parseCommand(value: unknown): string[] {
  if (!Array.isArray(value) || value.length === 0) throw new RequestError(400, "ERR a command is a non-empty JSON array");
  const command = value.map((arg) => {
    if (typeof arg === "string" || typeof arg === "number" || typeof arg === "boolean") return String(arg);
    throw new RequestError(400, "ERR command arguments must be strings, numbers or booleans");
  });
  if (REFUSED.has(command[0]!.toUpperCase())) throw new RequestError(400, `ERR ${command[0]} is not supported over REST`);
  return command;
}

function parseCommands(value: unknown): string[][] {
  if (!Array.isArray(value) || value.length === 0) throw new RequestError(400, "ERR expected a non-empty JSON array of commands");
  return value.map(parseCommand);
}

/** Redis reply → JSON value: Buffers as base64 or UTF-8 text, recursively. */
function encode(reply: Reply, base64: boolean): unknown {
  if (Buffer.isBuffer(reply)) return reply.toString(base64 ? "base64" : "utf8");
  if (Array.isArray(reply)) return reply.map((item) => (item instanceof Error ? item.message : encode(item, base64)));
  return reply;
}

const OK = Buffer.from("OK");

function entry(reply: Reply, base64: boolean): Entry {
  if (reply instanceof Error) return { error: reply.message };
  // The client decodes every top-level string as base64 except exactly "OK".
  if (base64 && Buffer.isBuffer(reply) && reply.equals(OK)) return { result: "OK" };
  return { result: encode(reply, base64) };
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const presented = header?.startsWith("Bearer ") ? header.slice(7) : "";
  // Digests have equal length, so the comparison takes the same time for any input.
  const digest = (value: string) => createHash("sha256").update(value).digest();
  return timingSafeEqual(digest(presented), digest(token)) && presented.length > 0;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "Content-Type": "application/json" }).end(JSON.stringify(body));
}

/** Starts the REST gateway on 127.0.0.1 (ephemeral port unless given). */
export async function startUpstashGateway(options: UpstashGatewayOptions): Promise<UpstashGateway> {
  // No auto-pipelining: ioredis has sent wrong commands with it and callBuffer.
  const redis = new Redis(options.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  const idle: Redis[] = [];

  const call = (connection: Redis, [name, ...args]: string[]): Promise<Reply> =>
    connection.callBuffer(name!, ...args).then(
      (reply) => reply as Reply,
      (error: Error) => error,
    );

  async function multiExec(commands: string[][]): Promise<Reply> {
    const connection = idle.pop() ?? redis.duplicate();
    try {
      await connection.callBuffer("MULTI");
      // Queueing errors (unknown command, wrong arity) make EXEC abort the whole transaction.
      await Promise.all(commands.map((command) => call(connection, command)));
      return await call(connection, ["EXEC"]);
    } finally {
      if (connection.status === "ready") idle.push(connection);
      else connection.disconnect();
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== "POST") throw new RequestError(405, "ERR only POST is supported");
    if (!tokenMatches(req.headers.authorization, options.token)) throw new RequestError(401, "Unauthorized");
    const path = new URL(req.url ?? "/", "http://gateway").pathname;
    if (path !== "/" && path !== "/pipeline" && path !== "/multi-exec") throw new RequestError(404, "ERR unknown endpoint");
    const base64 = String(req.headers["upstash-encoding"]).toLowerCase() === "base64";
    let body: unknown;
    try {
      body = JSON.parse(await readBody(req));
    } catch (error) {
      if (error instanceof RequestError) throw error;
      throw new RequestError(400, "ERR request body is not JSON");
    }
    if (path === "/") {
      const result = entry(await call(redis, parseCommand(body)), base64);
      return send(res, "error" in result ? 400 : 200, result);
    }
    const commands = parseCommands(body);
    if (path === "/pipeline") {
      const replies = await Promise.all(commands.map((command) => call(redis, command)));
      return send(
        res,
        200,
        replies.map((reply) => entry(reply, base64)),
      );
    }
    const replies = await multiExec(commands);
    if (!Array.isArray(replies)) throw new RequestError(400, replies instanceof Error ? replies.message : "ERR transaction aborted");
    send(
      res,
      200,
      replies.map((reply) => entry(reply, base64)),
    );
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      const status = error instanceof RequestError ? error.status : 500;
      if (!res.headersSent) send(res, status, { error: error instanceof Error ? error.message : String(error) });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", resolve);
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await Promise.all([redis, ...idle.splice(0)].map((connection) => connection.quit().catch(() => connection.disconnect())));
    },
  };
}
