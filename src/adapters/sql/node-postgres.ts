/**
 * Origin SQL driver: node-postgres with the port's type contract (int8 stays a
 * string, `timestamp` without zone is read as UTC as Quay writes it).
 */
import pg from "pg";
import { DEFAULT_TIMEOUTS, type DependencyTimeouts } from "../../core/config.js";
import type { Sql } from "../../core/ports/sql.js";
import { pgBounds, pgPoolSql } from "./pg-pool.js";

const TIMESTAMP_WITHOUT_TIME_ZONE = 1114;
const types = {
  getTypeParser(oid: number, format?: "text" | "binary") {
    if (oid === TIMESTAMP_WITHOUT_TIME_ZONE) return (value: string) => new Date(value.replace(" ", "T") + "Z");
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

// Date parameters are written as UTC, matching how `timestamp` columns are read.
pg.defaults.parseInputDatesAsUTC = true;

export interface NodePostgresOptions {
  max?: number;
  /** null: unbounded, for schema migrations (they wait on a lock and may build indexes). */
  timeouts?: Pick<DependencyTimeouts, "sqlMs" | "sqlPoolWaitMs"> | null;
}

export function nodePostgresSql(connectionString: string, options: NodePostgresOptions = {}): Sql {
  return pgPoolSql(
    new pg.Pool({
      connectionString,
      max: options.max ?? 10,
      types,
      ...(options.timeouts === null ? {} : pgBounds(options.timeouts ?? DEFAULT_TIMEOUTS)),
    }),
  );
}
