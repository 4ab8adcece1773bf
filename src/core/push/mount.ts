/**
 * Cross-repository blob mount (`POST …/uploads/?mount=<digest>&from=<repo>`): when the
 * caller may read `from` and the blob belongs to it, the blob is linked to the target
 * without moving a byte (Quay: an uploadedblob row for an hour). Otherwise the caller
 * gets an ordinary upload session instead, so nothing leaks about `from`.
 */
import { authorizeRead, type Caller } from "../auth/access.js";
import type { RegistryConfig } from "../config.js";
import { RegistryError } from "../errors/registry-error.js";
import type { Digest } from "../model/digest.js";
import type { RepositoryName } from "../model/names.js";
import { findRepository } from "../../db/queries/pull.js";
import { findLinkedStorage, linkUploadedBlob, lockBlobDigests } from "../../db/queries/uploads.js";
import { toRepositoryInfo } from "../resources/repositories.js";
import type { PushTarget } from "./target.js";
import type { UploadDeps } from "./uploads.js";

const MOUNT_LINK_LIFETIME_MS = 3600_000;

/** True when mounted; false means "fall back to an upload session". */
export async function mountBlob(
  deps: UploadDeps,
  config: RegistryConfig,
  caller: Caller,
  target: PushTarget,
  from: RepositoryName,
  digest: Digest,
): Promise<boolean> {
  const source = await findRepository(deps.sql, from.namespace, from.repository);
  try {
    authorizeRead(config, caller, from, source && toRepositoryInfo(source));
  } catch (error) {
    if (error instanceof RegistryError) return false;
    throw error;
  }
  if (source === null) return false;
  const now = deps.clock.now();
  // Under the digest lock GC takes, so the blob cannot be collected between lookup and link.
  const mounted = await deps.sql.transaction(async (tx) => {
    await lockBlobDigests(tx, [digest.text]);
    const storage = await findLinkedStorage(tx, source.repository_id, digest.text);
    if (storage === null) return false;
    await linkUploadedBlob(tx, target.id, storage.id, new Date(now), new Date(now + MOUNT_LINK_LIFETIME_MS));
    return true;
  });
  if (mounted) await deps.cache.bump(target.full);
  return mounted;
}
