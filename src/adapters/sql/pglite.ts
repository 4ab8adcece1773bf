/**
 * Embedded SQL driver: PGlite (PostgreSQL compiled to WASM, one backend in-process).
 * PGlite runs one statement or transaction at a time, so transactions serialise —
 * right for the single-machine mode, not for concurrency tests.
 */
import { PGlite, types } from "@electric-sql/pglite";
import { pg_trgm } from "@electric-sql/pglite/contrib/pg_trgm";
import type { Queryable, Sql, SqlParam } from "../../core/ports/sql.js";
import { toSqlError } from "./pg-pool.js";

// Align PGlite's parsing with the port's contract (pg and Neon keep int8 as text).
const parsers = {
  [types.INT8]: (value: string) => value,
  [types.NUMERIC]: (value: string) => value,
  [types.TIMESTAMP]: (value: string) => new Date(value.replace(" ", "T") + "Z"),
};

interface PGliteQueryable {
  query<R>(text: string, params?: unknown[], options?: { parsers?: typeof parsers }): Promise<{ rows: R[]; affectedRows?: number }>;
}

function queryable(target: PGliteQueryable): Queryable {
  return {
    async query<R extends object>(text: string, params: readonly SqlParam[] = []) {
      try {
        const result = await target.query<R>(text, params as unknown[], { parsers });
        return { rows: result.rows, rowCount: result.affectedRows || result.rows.length };
      } catch (error) {
        throw toSqlError(error);
      }
    },
  };
}

/** Opens (creating when absent) the database stored in `dataDir`; memory when omitted. */
export async function pgliteSql(dataDir?: string): Promise<Sql> {
  // pg_trgm: Quay's repository search indexes are trigram GIN indexes.
  const db = await PGlite.create({ ...(dataDir ? { dataDir } : {}), extensions: { pg_trgm } });
  return {
    ...queryable(db),
    transaction: (fn) => db.transaction((tx) => fn(queryable(tx))),
    close: () => db.close(),
  };
}
