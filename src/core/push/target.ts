/** The repository a write goes to: the caller's token must grant push on it. */
import { authorizeWrite, type Caller } from "../auth/access.js";
import { RegistryError } from "../errors/registry-error.js";
import type { RepositoryName } from "../model/names.js";
import type { Queryable } from "../ports/sql.js";
import { findRepository } from "../../db/queries/pull.js";
import type { PushTarget } from "./uploads.js";

export async function resolvePushTarget(sql: Queryable, caller: Caller, name: RepositoryName): Promise<PushTarget> {
  authorizeWrite(caller, name);
  const repository = await findRepository(sql, name.namespace, name.repository);
  if (repository === null) throw new RegistryError("NAME_UNKNOWN", undefined, "repository not found");
  return { id: repository.repository_id, namespaceId: repository.namespace_id, full: name.full };
}
