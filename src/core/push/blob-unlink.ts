/**
 * `DELETE /v2/<name>/blobs/<digest>`: the blob leaves the repository — GET and HEAD then
 * answer BLOB_UNKNOWN there — while no manifest of the repository references it. The
 * bytes stay until garbage collection finds no repository using them.
 */
import { authorizeWrite, type Caller } from "../auth/access.js";
import { RegistryError } from "../errors/registry-error.js";
import type { Digest } from "../model/digest.js";
import type { RepositoryName } from "../model/names.js";
import type { Sql } from "../ports/sql.js";
import type { PullCache } from "../resources/pull-cache.js";
import { unlinkRepositoryBlob } from "../../db/queries/blob-unlink.js";
import { findRepository } from "../../db/queries/pull.js";

export async function unlinkBlob(
  deps: { sql: Sql; cache: PullCache },
  caller: Caller,
  name: RepositoryName,
  digest: Digest,
): Promise<void> {
  authorizeWrite(caller, name);
  const repository = await findRepository(deps.sql, name.namespace, name.repository);
  if (repository === null) throw new RegistryError("NAME_UNKNOWN", undefined, "repository not found");
  const outcome = await deps.sql.transaction((tx) => unlinkRepositoryBlob(tx, repository.repository_id, digest.text));
  if (outcome === "unknown") throw new RegistryError("BLOB_UNKNOWN", undefined, { digest: digest.text });
  if (outcome === "referenced") {
    throw new RegistryError("UNSUPPORTED", `blob ${digest.text} is referenced by a manifest of ${name.full}; delete the manifest first`, {
      digest: digest.text,
    });
  }
  await deps.cache.bump(name.full);
}
