/**
 * Origin SQL driver: node-postgres with the port's type contract (int8 stays a
 * string, `timestamp` without zone is read as UTC as Quay writes it).
 */
import pg from "pg";
import { DEFAULT_TIMEOUTS, type DependencyTimeouts } from "../../core/config.js";
import type { Sql } from "../../core/ports/sql.js";
import { pgPoolSql } from "./pg-pool.js";

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

/**
 * The client gives up this long after the server's statement_timeout: a slow statement
 * is cancelled by the server (the connection stays usable), a frozen server by the client.
 */
const CLIENT_GRACE_MS = 1_000;

function bounds(timeouts: NodePostgresOptions["timeouts"]): pg.PoolConfig {
  if (timeouts === null) return {};
  const { sqlMs, sqlPoolWaitMs } = timeouts ?? DEFAULT_TIMEOUTS;
  return { statement_timeout: sqlMs, query_timeout: sqlMs + CLIENT_GRACE_MS, connectionTimeoutMillis: sqlPoolWaitMs };
}

export function nodePostgresSql(connectionString: string, options: NodePostgresOptions = {}): Sql {
  return pgPoolSql(new pg.Pool({ connectionString, max: options.max ?? 10, types, ...bounds(options.timeouts) }));
}
