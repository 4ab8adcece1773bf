/**
 * Referrers of content in a cache organization: the local ones plus the upstream's
 * (signatures and SBOMs pushed upstream after the image was cached), the upstream's
 * answer kept in the shared cache for the organization's expiration window. An upstream
 * without the referrers API, or failing, leaves the local answer.
 */
import { authorizeRead, type Caller } from "../auth/access.js";
import type { Digest } from "../model/digest.js";
import { MediaType } from "../model/media-types.js";
import type { RepositoryName } from "../model/names.js";
import type { Descriptor, ReferrersIndex } from "../resources/referrers.js";
import { lookupRepository } from "../resources/repositories.js";
import type { PullSource } from "../resources/source.js";
import { UpstreamError } from "../upstream/types.js";
import { OriginHandoff, upstreamFailure } from "./errors.js";
import type { CacheOrganization } from "./organizations.js";
import type { ProxyDeps } from "./source.js";
import { upstreamRepository } from "./upstream-registry.js";

/** Upstream answers are kept at most this long (and a day when cached tags never expire). */
const MAX_KEEP_SECONDS = 86_400;

function descriptors(bytes: Uint8Array | null): Descriptor[] {
  if (bytes === null) return [];
  try {
    const index = JSON.parse(new TextDecoder().decode(bytes)) as { manifests?: unknown };
    if (!Array.isArray(index.manifests)) return [];
    return index.manifests.filter(
      (d): d is Descriptor => typeof d?.digest === "string" && typeof d?.mediaType === "string" && typeof d?.size === "number",
    );
  } catch {
    return [];
  }
}

async function upstreamDescriptors(deps: ProxyDeps, org: CacheOrganization, name: RepositoryName, subject: Digest): Promise<Descriptor[]> {
  const key = `pier:proxy-referrers:${name.full}@${subject.text}`;
  const kept = await deps.shared.get(key).catch(() => null);
  if (kept !== null) return JSON.parse(kept) as Descriptor[];
  if (deps.blobFill === null) throw new OriginHandoff();
  const upstreamRepo = upstreamRepository(org.target.registry, name.repository);
  const found = descriptors(await deps.client.getReferrers(org.target, upstreamRepo, subject.text, { purpose: "fill" }));
  const keep = org.expirationSeconds > 0 ? Math.min(org.expirationSeconds, MAX_KEEP_SECONDS) : MAX_KEEP_SECONDS;
  await deps.shared.set(key, JSON.stringify(found), keep).catch(() => {});
  return found;
}

export async function proxiedReferrers(
  deps: ProxyDeps,
  org: CacheOrganization,
  local: PullSource,
  caller: Caller,
  name: RepositoryName,
  subject: Digest,
  artifactType: string | null,
): Promise<ReferrersIndex> {
  const repository = await lookupRepository(deps.pull, name);
  authorizeRead(deps.pull.config, caller, name, repository);
  const stored = repository === null ? [] : (await local.referrers(caller, name, subject, artifactType)).manifests;
  let fetched: Descriptor[] = [];
  try {
    fetched = await upstreamDescriptors(deps, org, name, subject);
  } catch (error) {
    if (!(error instanceof UpstreamError)) throw error;
    if (repository === null) throw upstreamFailure(error, org.target.registry.host, "MANIFEST_UNKNOWN");
  }
  const byDigest = new Map(stored.map((d) => [d.digest, d]));
  for (const entry of fetched) {
    if (!byDigest.has(entry.digest) && (artifactType === null || entry.artifactType === artifactType)) byDigest.set(entry.digest, entry);
  }
  return { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [...byDigest.values()] };
}
