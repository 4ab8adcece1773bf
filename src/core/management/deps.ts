/**
 * What the management services need: the database (with transactions), time, settings,
 * the field encrypter for robot tokens, and the pull cache whose generations writers
 * bump — plus, per request, who is asking and from where.
 */
import type { FieldEncrypter } from "../auth/field-encryption.js";
import type { RegistryConfig } from "../config.js";
import type { Clock } from "../ports/clock.js";
import type { Sql } from "../ports/sql.js";
import type { PullCache } from "../resources/pull-cache.js";
import type { Access } from "./access.js";

export interface ManagementDeps {
  sql: Sql;
  clock: Clock;
  config: RegistryConfig;
  /** Null when no DATABASE_SECRET_KEY is configured: robots cannot be created or read then. */
  fields: FieldEncrypter | null;
  cache: PullCache;
}

export interface RequestContext {
  access: Access;
  /** The client address recorded in audit entries, when known. */
  ip: string | null;
}

/** Makes the pull path forget `repositories` (full `ns/name` names); call after the write committed. */
export async function bumpRepositories(deps: ManagementDeps, repositories: Iterable<string>): Promise<void> {
  for (const repository of new Set(repositories)) await deps.cache.bump(repository);
}
