/**
 * One schema revision. Revisions are tracked in Quay's own `alembic_version` table, so a
 * Pier revision id must never collide with one of Quay's.
 */
import type { Queryable } from "../../core/ports/sql.js";

export interface Migration {
  /** Stamped into alembic_version.version_num (at most 32 characters) once applied. */
  readonly revision: string;
  /** Applies the revision inside the migration transaction; must not commit. */
  up(tx: Queryable): Promise<void>;
}
