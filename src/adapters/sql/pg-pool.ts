/**
 * SQL adapter over a connection pool with node-postgres' shape. One structural type
 * serves both `pg.Pool` (origin) and `@neondatabase/serverless` Pool (edge WebSocket).
 */
import { SqlError, type Queryable, type QueryResult, type Row, type Sql, type SqlParam } from "../../core/ports/sql.js";

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

/** Maps a driver error (pg's DatabaseError fields) onto the port's SqlError. */
export function toSqlError(error: unknown): unknown {
  if (error instanceof SqlError) return error;
  if (error instanceof Error && "code" in error && typeof error.code === "string") {
    const constraint = "constraint" in error && typeof error.constraint === "string" ? error.constraint : undefined;
    return new SqlError(error.message, error.code, constraint);
  }
  return error;
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
      const client = await pool.connect();
      const tx: Queryable = { query: (text, params) => queryPg(client, text, params) };
      try {
        await client.query("BEGIN");
        const result = await fn(tx);
        await client.query("COMMIT");
        client.release();
        return result;
      } catch (error) {
        try {
          await client.query("ROLLBACK");
          client.release();
        } catch (rollbackError) {
          client.release(rollbackError as Error);
        }
        throw toSqlError(error);
      }
    },
    close: () => pool.end(),
  };
}
