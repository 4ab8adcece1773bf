/**
 * Embedded SQL driver: PGlite (PostgreSQL compiled to WASM, one backend in-process).
 * PGlite runs one statement or transaction at a time, so transactions serialise —
 * right for the single-machine mode, not for concurrency tests.
 */
import { PGlite, types } from "@electric-sql/pglite";
import { pg_trgm } from "@electric-sql/pglite/contrib/pg_trgm";
import type { Queryable, Sql, SqlParam } from "../../core/ports/sql.js";
import { ConfigError } from "../../core/config.js";
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

export interface PgliteOptions {
  /**
   * PostgreSQL's shared_buffers (default 16MB; PostgreSQL's own default is 128MB). The
   * buffers live in the WASM memory, which never shrinks: this is most of the memory an
   * idle embedded registry holds. A small registry's working set fits in 16 MB, and pages
   * not in the buffers come from the operating system's file cache.
   */
  sharedBuffers?: string;
  /** PostgreSQL's maintenance_work_mem (default 16MB): what an index build (migrations) may take. */
  maintenanceWorkMem?: string;
}

/** Opens (creating when absent) the database stored in `dataDir`; memory when omitted. */
export async function pgliteSql(dataDir?: string, options: PgliteOptions = {}): Promise<Sql> {
  for (const [name, value] of [
    ["shared_buffers (PIER_PGLITE_SHARED_BUFFERS)", options.sharedBuffers],
    ["maintenance_work_mem", options.maintenanceWorkMem],
  ] as const) {
    // Written into postgresql.conf: a size such as 16MB or 2048 (8 kB pages), nothing else.
    if (value !== undefined && !/^\d+(kB|MB|GB)?$/.test(value))
      throw new ConfigError(`${name} must be a memory size such as 16MB, not ${JSON.stringify(value)}`);
  }
  const db = await PGlite.create({
    ...(dataDir ? { dataDir } : {}),
    // pg_trgm: Quay's repository search indexes are trigram GIN indexes.
    extensions: { pg_trgm },
    // Written to postgresql.conf at every start (PGlite adds its preload line to it).
    postgresqlconf: [
      `shared_buffers = '${options.sharedBuffers ?? "16MB"}'`,
      `maintenance_work_mem = '${options.maintenanceWorkMem ?? "16MB"}'`,
    ],
  });
  return {
    ...queryable(db),
    transaction: (fn) => db.transaction((tx) => fn(queryable(tx))),
    close: () => db.close(),
  };
}
