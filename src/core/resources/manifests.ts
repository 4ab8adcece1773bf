/**
 * Manifest reads: by tag (the alive, visible tag row) or by digest (while an alive tag
 * reaches it), one cached lookup each, then Quay's content negotiation for tags.
 */
import { authorizeRead, type Caller, type RepositoryInfo } from "../auth/access.js";
import { RegistryError } from "../errors/registry-error.js";
import { isManifestList, isManifestMediaType, isSchema1 } from "../model/media-types.js";
import type { RepositoryName } from "../model/names.js";
import type { Reference } from "../model/reference.js";
import { findManifestByDigest, findTaggedManifest, NO_END_MS } from "../../db/queries/pull.js";
import type { PullDeps } from "./deps.js";
import { PullCache, type Loaded } from "./pull-cache.js";
import { toRepositoryInfo } from "./repositories.js";

export interface Manifest {
  digest: string;
  mediaType: string;
  /** The stored manifest text (Quay keeps manifest_bytes as UTF-8 text). */
  text: string;
}

/** One cached answer: the repository (null: unknown) and the manifest (null: unknown, expired or a proxy-cache placeholder). */
export interface ManifestLookup {
  repository: RepositoryInfo | null;
  manifest: Manifest | null;
  tagExpired: boolean;
}

function answer(lookup: ManifestLookup, validUntil: number | null): Loaded<ManifestLookup> {
  return { value: lookup, validUntil, negative: lookup.manifest === null };
}

function lookupByTag(deps: PullDeps, name: RepositoryName, tag: string): Promise<ManifestLookup> {
  return deps.cache.read(name.full, PullCache.key(name.full, "tag", tag), async () => {
    const row = await findTaggedManifest(deps.sql, name.namespace, name.repository, tag, deps.clock.now());
    if (row === null) return answer({ repository: null, manifest: null, tagExpired: false }, null);
    const repository = toRepositoryInfo(row);
    if (row.digest === null || row.manifest_bytes === "") return answer({ repository, manifest: null, tagExpired: row.expired }, null);
    const manifest = { digest: row.digest, mediaType: row.media_type!, text: row.manifest_bytes! };
    return answer({ repository, manifest, tagExpired: false }, row.lifetime_end_ms === null ? null : Number(row.lifetime_end_ms));
  });
}

function lookupByDigest(deps: PullDeps, name: RepositoryName, digest: string): Promise<ManifestLookup> {
  return deps.cache.read(name.full, PullCache.key(name.full, "digest", digest), async () => {
    const row = await findManifestByDigest(deps.sql, name.namespace, name.repository, digest, deps.clock.now());
    if (row === null) return answer({ repository: null, manifest: null, tagExpired: false }, null);
    const repository = toRepositoryInfo(row);
    // Visible while an alive tag reaches it; a referrer (it has a subject) for as long
    // as it exists, since the referrers API lists it.
    // A proxy cache's placeholder (no bytes yet, Quay's manifest_bytes = "") is not servable.
    const visible = row.digest !== null && row.manifest_bytes !== "" && (row.visible_until !== null || row.subject !== null);
    if (!visible) return answer({ repository, manifest: null, tagExpired: false }, null);
    const manifest = { digest: row.digest!, mediaType: row.media_type!, text: row.manifest_bytes! };
    const until = row.visible_until === null || row.visible_until === NO_END_MS ? null : Number(row.visible_until);
    return answer({ repository, manifest, tagExpired: false }, until);
  });
}

/** Media types a client accepts, from its `Accept` header(s); parameters dropped. */
export function parseAccept(header: string | undefined): string[] {
  if (!header) return [];
  return header
    .split(",")
    .map((part) => part.split(";")[0]!.trim().toLowerCase())
    .filter(Boolean);
}

function acceptable(mediaType: string, accepted: readonly string[]): boolean {
  if (accepted.length === 0 || accepted.includes("*/*") || accepted.includes(mediaType)) return true;
  // Quay: a schema1 manifest goes as it is to clients that accept only application/json.
  if (isSchema1(mediaType) && accepted.length === 1 && accepted[0] === "application/json") return true;
  // Clients that name no manifest type at all get what is stored.
  return !accepted.some(isManifestMediaType);
}

/** The linux/amd64 entry of a manifest list, the image Quay serves to clients that cannot take lists. */
function defaultPlatformChild(list: Manifest): string | null {
  try {
    const parsed = JSON.parse(list.text) as { manifests?: { digest?: unknown; platform?: { os?: unknown; architecture?: unknown } }[] };
    const entry = parsed.manifests?.find((m) => m.platform?.os === "linux" && m.platform?.architecture === "amd64");
    return typeof entry?.digest === "string" ? entry.digest : null;
  } catch {
    return null;
  }
}

export interface ManifestRead {
  repository: RepositoryInfo;
  manifest: Manifest;
}

/** What the repository holds under `reference`, from the read-through cache; no authorization. */
export function lookupManifest(deps: PullDeps, name: RepositoryName, reference: Reference): Promise<ManifestLookup> {
  return reference.kind === "tag" ? lookupByTag(deps, name, reference.tag) : lookupByDigest(deps, name, reference.digest.text);
}

/** `readManifest` with the lookup already done (the proxy cache looks first, then answers the same way). */
export async function answerManifest(
  deps: PullDeps,
  caller: Caller,
  name: RepositoryName,
  reference: Reference,
  lookup: ManifestLookup,
  accepted: readonly string[],
): Promise<ManifestRead> {
  authorizeRead(deps.config, caller, name, lookup.repository);
  const repository = lookup.repository;
  if (repository === null) throw new RegistryError("NAME_UNKNOWN", undefined, "repository not found");
  if (lookup.manifest === null) {
    if (lookup.tagExpired && reference.kind === "tag") {
      throw new RegistryError("TAG_EXPIRED", `Tag ${reference.tag} was deleted or has expired. To pull, revive via time machine`);
    }
    throw new RegistryError("MANIFEST_UNKNOWN");
  }
  // By digest the client asked for exact bytes: never converted.
  if (reference.kind === "digest" || acceptable(lookup.manifest.mediaType, accepted)) return { repository, manifest: lookup.manifest };

  if (isManifestList(lookup.manifest.mediaType)) {
    const childDigest = defaultPlatformChild(lookup.manifest);
    const child = childDigest === null ? null : (await lookupByDigest(deps, name, childDigest)).manifest;
    if (child && acceptable(child.mediaType, accepted)) return { repository, manifest: child };
  }
  throw new RegistryError("MANIFEST_UNKNOWN", undefined, {
    message: `manifest is ${lookup.manifest.mediaType}, which the request's Accept header does not allow`,
  });
}

/**
 * The manifest `reference` names in `name`, for `caller`, in a form the `Accept` list
 * takes: as stored; for a tag of a list the client cannot take, the list's linux/amd64
 * image; otherwise MANIFEST_UNKNOWN (Pier does not synthesize schema1 as Quay does).
 */
export async function readManifest(
  deps: PullDeps,
  caller: Caller,
  name: RepositoryName,
  reference: Reference,
  accepted: readonly string[],
): Promise<ManifestRead> {
  return answerManifest(deps, caller, name, reference, await lookupManifest(deps, name, reference), accepted);
}
