/**
 * Writes what the proxy fetched as Quay's proxy writes it (registry_proxy_model.py), so
 * a Quay on the same database serves it: the repository (private, the puller a reader),
 * the manifest with manifestblob links to storages — placeholders without a placement
 * until the bytes arrive — children of a list as placeholder manifests, quota totals, and
 * a tag ending `expiration_s` after the fill (a hidden `$temp-` tag for pulls by digest).
 */
import { parseManifest, requiredBlobs, type ParsedManifest } from "../manifests/parse.js";
import { insertRepositoryRows } from "../management/repositories.js";
import { isManifestMediaType } from "../model/media-types.js";
import type { RepositoryName } from "../model/names.js";
import type { Clock } from "../ports/clock.js";
import type { Queryable, Sql } from "../ports/sql.js";
import type { QuotaSettings } from "../push/quota.js";
import type { UpstreamManifest } from "../upstream/types.js";
import { addManifestToTotals } from "../../db/queries/quota.js";
import { insertManifest, linkManifest, retargetTag } from "../../db/queries/manifests.js";
import { findNamespace } from "../../db/queries/management-accounts.js";
import { upsertUserPermission } from "../../db/queries/management-permissions.js";
import { findRepository } from "../../db/queries/pull.js";
import { ensureStorages, fillPlaceholderManifest, findManifestRow } from "../../db/queries/proxy-fill.js";
import { makeRoomForImage, type EvictedTag } from "./eviction.js";

export interface CacheWriteDeps {
  sql: Sql;
  clock: Clock;
  quota: QuotaSettings;
}

/** Where a fetched manifest goes and who asked for it. */
export interface CacheWrite {
  name: RepositoryName;
  /** The tag pulled, or null for a pull by digest. */
  tag: string | null;
  manifest: UpstreamManifest;
  /** Seconds the cached tag lives (proxycacheconfig.expiration_s); 0: it never expires. */
  expirationSeconds: number;
  /** The pulling user, who becomes a reader of a repository the fill creates. */
  performer: string | null;
}

export interface CacheWriteResult {
  repositoryId: number;
  manifestId: number;
  /** Tags evicted to stay within the organization's quota (their repositories' caches must be bumped). */
  evicted: EvictedTag[];
}

const TEMP_TAG_PREFIX = "$temp-";

function parsed(manifest: UpstreamManifest): ParsedManifest | null {
  try {
    return parseManifest(manifest.mediaType, manifest.bytes);
  } catch {
    // Schema 1 and other shapes Pier does not parse are cached as bytes, without links.
    return null;
  }
}

async function repositoryFor(tx: Queryable, deps: CacheWriteDeps, write: CacheWrite): Promise<{ id: number; namespaceId: number }> {
  const existing = await findRepository(tx, write.name.namespace, write.name.repository);
  if (existing) return { id: existing.repository_id, namespaceId: existing.namespace_id };
  const namespace = await findNamespace(tx, write.name.namespace);
  if (namespace === null) throw new Error(`cache organization ${write.name.namespace} does not exist`);
  const id = await insertRepositoryRows(tx, {
    namespace,
    name: write.name.repository,
    visibility: "private",
    kind: "image",
    description: "",
    creator: null,
    nowMs: deps.clock.now(),
  });
  if (id === null) throw new Error(`repository ${write.name.full} appeared during the fill`);
  const performer = write.performer === null ? null : await findNamespace(tx, write.performer);
  if (performer && !performer.robot && !performer.organization) await upsertUserPermission(tx, id, performer.id, "read");
  return { id, namespaceId: namespace.id };
}

/** Child manifests of a list, as placeholders where the repository lacks them. */
async function childIds(tx: Queryable, repositoryId: number, manifest: ParsedManifest): Promise<number[]> {
  if (manifest.kind !== "list") return [];
  const ids: number[] = [];
  for (const child of manifest.manifests) {
    if (!isManifestMediaType(child.mediaType)) continue;
    const row = await insertManifest(tx, {
      repositoryId,
      digest: child.digest,
      mediaType: child.mediaType,
      text: "",
      configMediaType: null,
      layersCompressedSize: null,
      subject: null,
      artifactType: null,
    });
    ids.push(row.id);
  }
  return ids;
}

async function storeManifestRows(
  tx: Queryable,
  deps: CacheWriteDeps,
  repository: { id: number; namespaceId: number },
  write: CacheWrite,
): Promise<{ manifestId: number; evicted: EvictedTag[] }> {
  const { manifest } = write;
  const shape = parsed(manifest);
  const text = new TextDecoder().decode(manifest.bytes);
  const blobs = shape ? requiredBlobs(shape).map((b) => ({ digest: b.digest, size: b.size })) : [];
  const fields = {
    configMediaType: shape?.kind === "image" ? shape.config.mediaType : null,
    layersCompressedSize: shape?.kind === "image" ? shape.layers.reduce((sum, l) => sum + l.size, 0) : null,
    subject: shape?.subject?.digest ?? null,
    artifactType: shape?.artifactType ?? null,
  };
  const existing = await findManifestRow(tx, repository.id, manifest.digest);
  if (existing && existing.manifest_bytes !== "") return { manifestId: existing.id, evicted: [] };

  const evicted = blobs.length > 0 ? await makeRoomForImage(tx, deps, repository.namespaceId, blobs) : [];
  let manifestId: number;
  if (existing) {
    await fillPlaceholderManifest(tx, existing.id, text, fields);
    manifestId = existing.id;
  } else {
    const row = await insertManifest(tx, {
      repositoryId: repository.id,
      digest: manifest.digest,
      mediaType: manifest.mediaType,
      text,
      ...fields,
    });
    manifestId = row.id;
  }
  const storages = await ensureStorages(tx, blobs);
  const children = shape ? await childIds(tx, repository.id, shape) : [];
  await linkManifest(tx, repository.id, manifestId, storages, children, new Date(deps.clock.now()));
  if (deps.quota.enabled) await addManifestToTotals(tx, repository.namespaceId, repository.id, manifestId);
  return { manifestId, evicted };
}

/** Caches a fetched manifest and points the tag (or a hidden temporary tag) at it; one transaction. */
export async function writeCachedManifest(deps: CacheWriteDeps, write: CacheWrite): Promise<CacheWriteResult> {
  return deps.sql.transaction(async (tx) => {
    const repository = await repositoryFor(tx, deps, write);
    const { manifestId, evicted } = await storeManifestRows(tx, deps, repository, write);
    const lifetimeMs = write.expirationSeconds > 0 ? write.expirationSeconds * 1000 : undefined;
    // An immutable tag stays where it is, as Quay's proxy leaves it.
    if (write.tag !== null) await retargetTag(tx, deps.clock, repository.id, write.tag, manifestId, { lifetimeMs });
    else
      await retargetTag(tx, deps.clock, repository.id, `${TEMP_TAG_PREFIX}${crypto.randomUUID()}`, manifestId, {
        hidden: true,
        lifetimeMs,
      });
    return { repositoryId: repository.id, manifestId, evicted };
  });
}
