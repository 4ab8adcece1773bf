/** What the pull-path resources need: the database, the read-through cache, time and settings. */
import type { RegistryConfig } from "../config.js";
import type { Clock } from "../ports/clock.js";
import type { Queryable } from "../ports/sql.js";
import type { PullCache } from "./pull-cache.js";

export interface PullDeps {
  config: RegistryConfig;
  sql: Queryable;
  clock: Clock;
  cache: PullCache;
}
