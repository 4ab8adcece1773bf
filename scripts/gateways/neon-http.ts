/**
 * Local stand-in for Neon's SQL-over-HTTP endpoint, so `neon()` from
 * @neondatabase/serverless runs unchanged against the local PostgreSQL.
 *
 * Wire format (what the driver sends and parses): `POST /sql` with the headers
 * `Neon-Connection-String`, `Neon-Raw-Text-Output: true`, `Neon-Array-Mode` and, for
 * batches, `Neon-Batch-Isolation-Level` / `-Read-Only` / `-Deferrable`. The body is
 * `{query, params}` or `{queries: [...]}` with every parameter as Postgres text (or
 * null). A result is `{command, rowCount, rows, fields, rowAsArray}` with values left
 * as Postgres text: the driver parses them itself by `fields[].dataTypeID`. Errors are
 * HTTP 400 with the Postgres error fields, which the driver copies onto its error.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import pg from "pg";

/** A running gateway; `url` is the endpoint for `neonConfig.fetchEndpoint`. */
export interface NeonHttpGateway {
  url: string;
  port: number;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 10 * 1024 * 1024;
/** Every column stays as the server's text; the client parses by type OID. */
const rawText = { getTypeParser: () => (value: string) => value };
const isolationLevels: Record<string, string> = {
  ReadUncommitted: "READ UNCOMMITTED",
  ReadCommitted: "READ COMMITTED",
  RepeatableRead: "REPEATABLE READ",
  Serializable: "SERIALIZABLE",
};
/** Fields of a Postgres error the driver copies onto its NeonDbError. */
const errorFields = [
  "severity",
  "code",
  "detail",
  "hint",
  "position",
  "internalPosition",
  "internalQuery",
  "where",
  "schema",
  "table",
  "column",
  "dataType",
  "constraint",
  "file",
  "line",
  "routine",
] as const;

interface Statement {
  query: string;
  params: (string | null)[];
}

/** A refusal the client should see as-is, with its HTTP status. */
class GatewayError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** True for the addresses the gateway may connect to: this machine only. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  return bare === "localhost" || bare === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}

async function readBody(req: IncomingMessage): Promise<string> {
  if (Number(req.headers["content-length"] ?? 0) > MAX_BODY_BYTES)
    throw new GatewayError(413, `request body exceeds ${MAX_BODY_BYTES} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new GatewayError(413, `request body exceeds ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function parseStatement(value: unknown): Statement {
  if (typeof value !== "object" || value === null || typeof (value as { query?: unknown }).query !== "string") {
    throw new GatewayError(400, "each statement needs a string `query`");
  }
  const { query, params = [] } = value as { query: string; params?: unknown };
  if (!Array.isArray(params)) throw new GatewayError(400, "`params` must be an array");
  return {
    query,
    params: params.map((param) => {
      if (param === null || typeof param === "string") return param;
      if (typeof param === "number" || typeof param === "boolean") return String(param);
      throw new GatewayError(400, "parameters must be Postgres text, numbers, booleans or null");
    }),
  };
}

/** pg settings from the connection string: only who and where; TLS to a local server is not wanted. */
function poolConfig(connectionString: string): pg.PoolConfig {
  let url: URL;
  try {
    url = new URL(connectionString);
  } catch {
    throw new GatewayError(400, "Neon-Connection-String is not a valid URL");
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    throw new GatewayError(400, "Neon-Connection-String must be a postgres:// URL");
  }
  if (!isLoopbackHost(url.hostname)) {
    throw new GatewayError(403, `this gateway only connects to loopback databases, not ${url.hostname}`);
  }
  return {
    host: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: Number(url.port || 5432),
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password) || undefined,
    database: decodeURIComponent(url.pathname.slice(1)),
    application_name: url.searchParams.get("application_name") ?? undefined,
    types: rawText,
    max: 10,
    idleTimeoutMillis: 30_000,
  };
}

function transactionStart(headers: IncomingMessage["headers"]): string {
  const parts = ["BEGIN"];
  const isolation = headers["neon-batch-isolation-level"];
  if (typeof isolation === "string") {
    const level = isolationLevels[isolation];
    if (!level) throw new GatewayError(400, `unknown Neon-Batch-Isolation-Level ${isolation}`);
    parts.push(`ISOLATION LEVEL ${level}`);
  }
  if (headers["neon-batch-read-only"] === "true") parts.push("READ ONLY");
  if (headers["neon-batch-deferrable"] === "true") parts.push("DEFERRABLE");
  return parts.join(" ");
}

async function run(client: pg.Pool | pg.PoolClient, statement: Statement, arrayMode: boolean): Promise<object> {
  // Extended protocol even without parameters, as Neon does: one statement per query
  // (`queryMode` is pg's, missing from its type definitions).
  const config: pg.QueryArrayConfig & { queryMode: "extended" } = {
    text: statement.query,
    values: statement.params,
    rowMode: "array",
    queryMode: "extended",
  };
  const result = await client.query(config);
  const rows = arrayMode
    ? result.rows
    : (result.rows as unknown[][]).map((row) => Object.fromEntries(result.fields.map((field, i) => [field.name, row[i]])));
  return { command: result.command, rowCount: result.rowCount, rows, fields: result.fields, rowAsArray: arrayMode };
}

async function runBatch(pool: pg.Pool, begin: string, statements: Statement[], arrayMode: boolean): Promise<object[]> {
  const client = await pool.connect();
  try {
    await client.query(begin);
    const results: object[] = [];
    for (const statement of statements) results.push(await run(client, statement, arrayMode));
    await client.query("COMMIT");
    client.release();
    return results;
  } catch (error) {
    await client.query("ROLLBACK").then(
      () => client.release(),
      (rollbackError: Error) => client.release(rollbackError),
    );
    throw error;
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "Content-Type": "application/json" }).end(JSON.stringify(body));
}

function errorBody(error: unknown): { status: number; body: Record<string, unknown> } {
  if (error instanceof GatewayError) return { status: error.status, body: { message: error.message } };
  const source = error as Record<string, unknown>;
  const body: Record<string, unknown> = { message: error instanceof Error ? error.message : String(error) };
  for (const field of errorFields) if (source[field] !== undefined) body[field] = source[field];
  return { status: 400, body };
}

/** Starts the SQL-over-HTTP gateway on 127.0.0.1 (ephemeral port unless given). */
export async function startNeonHttpGateway(options: { port?: number }): Promise<NeonHttpGateway> {
  const pools = new Map<string, pg.Pool>();

  function poolFor(connectionString: string): pg.Pool {
    let pool = pools.get(connectionString);
    if (!pool) {
      pool = new pg.Pool(poolConfig(connectionString));
      // An idle client whose backend goes away (a dropped test database) must not crash the gateway.
      pool.on("error", () => {});
      pools.set(connectionString, pool);
    }
    return pool;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (new URL(req.url ?? "/", "http://gateway").pathname !== "/sql") throw new GatewayError(404, "the SQL endpoint is POST /sql");
    if (req.method !== "POST") throw new GatewayError(405, "the SQL endpoint only accepts POST");
    const connectionString = req.headers["neon-connection-string"];
    if (typeof connectionString !== "string") throw new GatewayError(400, "missing Neon-Connection-String header");
    if (req.headers["neon-raw-text-output"] !== "true") {
      throw new GatewayError(400, "this gateway implements only Neon-Raw-Text-Output: true (what @neondatabase/serverless sends)");
    }
    const arrayMode = req.headers["neon-array-mode"] === "true";
    const pool = poolFor(connectionString);
    let body: unknown;
    try {
      body = JSON.parse(await readBody(req));
    } catch (error) {
      if (error instanceof GatewayError) throw error;
      throw new GatewayError(400, "request body is not JSON");
    }
    const queries = (body as { queries?: unknown } | null)?.queries;
    if (queries === undefined) return send(res, 200, await run(pool, parseStatement(body), arrayMode));
    if (!Array.isArray(queries)) throw new GatewayError(400, "`queries` must be an array");
    const results = await runBatch(pool, transactionStart(req.headers), queries.map(parseStatement), arrayMode);
    send(res, 200, { results });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      const { status, body } = errorBody(error);
      if (!res.headersSent) send(res, status, body);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", resolve);
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/sql`,
    port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await Promise.all([closed, ...[...pools.values()].map((pool) => pool.end())]);
      pools.clear();
    },
  };
}
