/**
 * SQL port: the registry talks to PostgreSQL (Quay's schema) only through this.
 *
 * Every adapter returns the same JS types for the same column types, so core code
 * never branches on the driver (the shared suite in test/suites/sql.ts proves it):
 *   int2/int4 → number        int8/numeric → string      bool → boolean
 *   text/varchar → string     json/jsonb → parsed value  bytea → Uint8Array
 *   timestamp (no zone, Quay stores UTC) → Date read as UTC
 *   timestamptz → Date        NULL → null
 */
export type SqlParam = string | number | bigint | boolean | null | Date | Uint8Array;

export type Row = Record<string, unknown>;

export interface QueryResult<R extends object = Row> {
  rows: R[];
  /** Rows returned or affected (INSERT/UPDATE/DELETE). */
  rowCount: number;
}

/** Anything that runs one parameterised statement ($1, $2, … placeholders). */
export interface Queryable {
  query<R extends object = Row>(text: string, params?: readonly SqlParam[]): Promise<QueryResult<R>>;
}

export interface Sql extends Queryable {
  /**
   * Runs `fn` on one connection inside BEGIN … COMMIT; rolls back and rethrows when
   * `fn` throws. Statements outside `fn` never see its uncommitted writes.
   */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Releases connections; the client is unusable afterwards. */
  close(): Promise<void>;
}

/** A database error, normalised across drivers (SQLSTATE in `code`). */
export class SqlError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
    readonly constraint?: string,
  ) {
    super(message);
    this.name = "SqlError";
  }
}

/** SQLSTATE codes the core reacts to. */
export const SqlState = {
  uniqueViolation: "23505",
  foreignKeyViolation: "23503",
  serializationFailure: "40001",
  deadlockDetected: "40P01",
  /** Adapters report every failure to reach the server (refused, reset, timed out) as this. */
  connectionFailure: "08006",
  /** The server cancelled a statement, e.g. when it ran past `statement_timeout`. */
  queryCanceled: "57014",
} as const;

/**
 * True when PostgreSQL refused a value the request carried (SQLSTATE class 22: too
 * long, invalid byte sequence, out of range): input validation missed it, and the
 * answer is the client's 400, not a 500.
 */
export function isRejectedValue(error: unknown): boolean {
  return error instanceof SqlError && error.code?.startsWith("22") === true;
}

/**
 * True when the database could not be reached, is shutting down (SQLSTATE classes 08
 * and 57P) or did not finish a statement in time (57014).
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (!(error instanceof SqlError) || error.code === undefined) return false;
  return error.code.startsWith("08") || error.code.startsWith("57P") || error.code === SqlState.queryCanceled;
}
