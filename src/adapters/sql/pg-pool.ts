/**
 * SQL adapter over a connection pool with node-postgres' shape. One structural type
 * serves both `pg.Pool` (origin) and `@neondatabase/serverless` Pool (edge WebSocket).
 */
import type { DependencyTimeouts } from "../../core/config.js";
import {
  isDatabaseUnavailable,
  SqlError,
  SqlState,
  type Queryable,
  type QueryResult,
  type Row,
  type Sql,
  type SqlParam,
} from "../../core/ports/sql.js";

interface PgResultLike {
  rows: Row[];
  rowCount: number | null;
}

interface PgClientLike {
  query(text: string, params?: unknown[]): Promise<PgResultLike>;
  release(destroy?: boolean | Error): void;
}

/** The part of a pg-style pool this adapter needs. */
export interface PgPoolLike {
  query(text: string, params?: unknown[]): Promise<PgResultLike>;
  connect(): Promise<PgClientLike>;
  end(): Promise<void>;
  on(event: "error", listener: (error: Error) => void): unknown;
}

const SQLSTATE = /^[0-9A-Z]{5}$/;

/**
 * pg client settings that bound every statement and connection. The client gives up 1 s
 * after the server's statement_timeout: a slow statement is cancelled by the server (the
 * connection stays usable), a frozen server by the client (the connection is dropped).
 */
export function pgBounds({ sqlMs, sqlPoolWaitMs }: Pick<DependencyTimeouts, "sqlMs" | "sqlPoolWaitMs">) {
  return { statement_timeout: sqlMs, query_timeout: sqlMs + 1_000, connectionTimeoutMillis: sqlPoolWaitMs };
}

/**
 * Maps a driver error onto the port's SqlError: server errors keep their SQLSTATE;
 * anything that never got a server answer (refused, reset, DNS, socket errors) is a
 * connection failure, so callers can tell "database down" from a failing statement.
 */
export function toSqlError(error: unknown): unknown {
  if (error instanceof SqlError) return error;
  if (!(error instanceof Error)) return error;
  const code = "code" in error && typeof error.code === "string" ? error.code : undefined;
  if (code !== undefined && SQLSTATE.test(code)) {
    const constraint = "constraint" in error && typeof error.constraint === "string" ? error.constraint : undefined;
    return new SqlError(error.message, code, constraint);
  }
  return new SqlError(error.message, SqlState.connectionFailure);
}

/** Runs one statement on anything with pg's `query` shape, with the port's result and errors. */
export async function queryPg<R extends object>(
  target: { query: PgPoolLike["query"] },
  text: string,
  params: readonly SqlParam[] = [],
): Promise<QueryResult<R>> {
  try {
    const result = await target.query(text, params as unknown[]);
    return { rows: result.rows as R[], rowCount: result.rowCount ?? result.rows.length };
  } catch (error) {
    throw toSqlError(error);
  }
}

export function pgPoolSql(pool: PgPoolLike): Sql {
  // An idle client that loses its connection emits on the pool; without a listener
  // that is an unhandled error that kills the process.
  pool.on("error", () => {});
  return {
    query: (text, params) => queryPg(pool, text, params),
    async transaction(fn) {
      const client = await pool.connect().catch((error: unknown) => Promise.reject(toSqlError(error)));
      const tx: Queryable = { query: (text, params) => queryPg(client, text, params) };
      try {
        await tx.query("BEGIN");
        const result = await fn(tx);
        await tx.query("COMMIT");
        client.release();
        return result;
      } catch (error) {
        // A connection that timed out or broke is dropped, not rolled back: a ROLLBACK
        // would wait on it once more, and the server rolls back when it goes away.
        if (isDatabaseUnavailable(error)) client.release(error as Error);
        else {
          try {
            await client.query("ROLLBACK");
            client.release();
          } catch (rollbackError) {
            client.release(rollbackError as Error);
          }
        }
        // Statements already threw SqlErrors; anything else is the caller's own error.
        throw error;
      }
    },
    close: () => pool.end(),
  };
}
