/**
 * The pull-through proxy cache: a PullSource over the local one. Whatever is stored and
 * current is answered locally at the local cost (a warm pull never asks the upstream).
 * Only a miss in a cache organization reaches the upstream:
 *
 *   tag expired (its `expiration_s` window ended)  → HEAD upstream; same digest → renew in place
 *   tag unknown, or moved upstream                 → GET the manifest, write Quay's rows
 *   digest unknown                                 → GET it by digest (a stored digest needs no check)
 *   blob a placeholder                             → fill: streamed to the client while stored
 *
 * An upstream that is down, erroring or out of budget never hides a cached copy
 * (stale-if-error, for as long as the time machine keeps the tag); only content never
 * cached fails, with an OCI error naming the upstream problem.
 */
import { authorizeRead, type Caller, type RepositoryInfo } from "../auth/access.js";
import type { FieldEncrypter } from "../auth/field-encryption.js";
import { RegistryError } from "../errors/registry-error.js";
import type { Digest } from "../model/digest.js";
import type { RepositoryName } from "../model/names.js";
import type { Reference } from "../model/reference.js";
import type { Cache } from "../ports/cache.js";
import type { Sql } from "../ports/sql.js";
import type { QuotaSettings } from "../push/quota.js";
import { answerBlob, lookupBlob } from "../resources/blobs.js";
import type { PullDeps } from "../resources/deps.js";
import { answerManifest, lookupManifest, type ManifestLookup } from "../resources/manifests.js";
import type { PullSource } from "../resources/source.js";
import { toRepositoryInfo } from "../resources/repositories.js";
import { UpstreamError, type RegistryClient } from "../upstream/types.js";
import { findRepository } from "../../db/queries/pull.js";
import { findCurrentTag, findManifestBlob, findManifestRow, renewTag, type CurrentTagRow } from "../../db/queries/proxy-fill.js";
import { retargetTag } from "../../db/queries/manifests.js";
import { BlobFillError, fillBlob, type BlobFillDeps } from "./blob-fill.js";
import { writeCachedManifest } from "./cache-writer.js";
import { cacheOrganization, type CacheOrganization } from "./organizations.js";
import { OriginHandoff, upstreamFailure } from "./errors.js";
import { underLease } from "./lease.js";
import { proxiedReferrers } from "./referrers.js";
import { upstreamRepository } from "./upstream-registry.js";

/** How a proxied read was answered, per upstream (metrics). */
export type ProxyOutcome = "hit" | "miss" | "revalidated" | "stale" | "error";

export interface ProxyDeps {
  pull: PullDeps;
  sql: Sql;
  /** The shared cache (leases, upstream referrers). */
  shared: Cache;
  client: RegistryClient;
  /** Decrypts stored upstream credentials; null without DATABASE_SECRET_KEY. */
  fields: FieldEncrypter | null;
  quota: QuotaSettings;
  /** Null where this runtime cannot fill (the edge, which hands misses to the origin). */
  blobFill: BlobFillDeps | null;
  onOutcome?: (upstream: string, outcome: ProxyOutcome) => void;
}

const TEMP_TAG_PREFIX = "$temp-";

/** Whether a stale tag row may still be served: it has bytes and the time machine still keeps it. */
function staleServable(row: CurrentTagRow | null, nowMs: number): row is CurrentTagRow {
  if (row === null || row.manifest_bytes === "") return false;
  return row.lifetime_end_ms === null || Number(row.lifetime_end_ms) > nowMs - Number(row.window_s) * 1000;
}

function lookupOf(repository: RepositoryInfo, manifest: { digest: string; media_type: string; manifest_bytes: string }): ManifestLookup {
  return {
    repository,
    manifest: { digest: manifest.digest, mediaType: manifest.media_type, text: manifest.manifest_bytes },
    tagExpired: false,
  };
}

export function proxiedSource(local: PullSource, deps: ProxyDeps): PullSource {
  const { pull } = deps;
  const report = (org: CacheOrganization, outcome: ProxyOutcome) => deps.onOutcome?.(org.target.registry.host, outcome);

  function endOf(org: CacheOrganization): number | null {
    return org.expirationSeconds > 0 ? pull.clock.now() + org.expirationSeconds * 1000 : null;
  }

  async function repositoryInfo(name: RepositoryName): Promise<RepositoryInfo> {
    const row = await findRepository(deps.sql, name.namespace, name.repository);
    if (row === null) throw new RegistryError("NAME_UNKNOWN", undefined, "repository not found");
    return toRepositoryInfo(row);
  }

  /** Fetches `reference` upstream and caches it; the lookup that now answers it. */
  async function fetchAndStore(
    org: CacheOrganization,
    caller: Caller,
    name: RepositoryName,
    reference: Reference,
  ): Promise<ManifestLookup> {
    const ref = reference.kind === "tag" ? reference.tag : reference.digest.text;
    const upstreamRepo = upstreamRepository(org.target.registry, name.repository);
    const manifest = await deps.client.getManifest(org.target, upstreamRepo, ref, { purpose: "fill" });
    const written = await writeCachedManifest(
      { sql: deps.sql, clock: pull.clock, quota: deps.quota },
      {
        name,
        tag: reference.kind === "tag" ? reference.tag : null,
        manifest,
        expirationSeconds: org.expirationSeconds,
        performer: caller.subject,
      },
    );
    await pull.cache.bump(name.full);
    for (const evicted of new Set(written.evicted.map((e) => e.repository))) await pull.cache.bump(`${name.namespace}/${evicted}`);
    const repository = await repositoryInfo(name);
    const text = new TextDecoder().decode(manifest.bytes);
    return { repository, manifest: { digest: manifest.digest, mediaType: manifest.mediaType, text }, tagExpired: false };
  }

  /** A tag the repository has but whose window ended: revalidated by HEAD, renewed, refetched or served stale. */
  async function revalidate(org: CacheOrganization, caller: Caller, name: RepositoryName, tag: string, repositoryId: number) {
    const current = await findCurrentTag(deps.sql, repositoryId, tag);
    const stale = staleServable(current, pull.clock.now()) ? current : null;
    if (stale === null) return null;
    try {
      const upstreamRepo = upstreamRepository(org.target.registry, name.repository);
      const head = await deps.client.headManifest(org.target, upstreamRepo, tag, { purpose: "revalidate" });
      if (head.digest !== stale.digest) return null;
      await deps.sql.transaction((tx) => renewTag(tx, repositoryId, tag, stale.tag_id, endOf(org)));
      await pull.cache.bump(name.full);
      report(org, "revalidated");
    } catch (error) {
      if (!(error instanceof UpstreamError) || error.kind === "not_found") throw error;
      report(org, "stale");
    }
    return lookupOf(await repositoryInfo(name), stale);
  }

  /** A manifest stored under its digest but no longer reachable by a tag: content-addressed, so visible again without asking. */
  async function revive(org: CacheOrganization, name: RepositoryName, digest: string, repositoryId: number) {
    const row = await findManifestRow(deps.sql, repositoryId, digest);
    if (row === null || row.manifest_bytes === "") return null;
    const lifetimeMs = org.expirationSeconds > 0 ? org.expirationSeconds * 1000 : undefined;
    await deps.sql.transaction((tx) =>
      retargetTag(tx, pull.clock, repositoryId, `${TEMP_TAG_PREFIX}${crypto.randomUUID()}`, row.id, { hidden: true, lifetimeMs }),
    );
    await pull.cache.bump(name.full);
    report(org, "hit");
    return lookupOf(await repositoryInfo(name), row);
  }

  async function pullThrough(org: CacheOrganization, caller: Caller, name: RepositoryName, reference: Reference, lookup: ManifestLookup) {
    if (deps.blobFill === null) throw new OriginHandoff();
    const ref = reference.kind === "tag" ? reference.tag : reference.digest.text;
    // What another instance's fill stored, read afresh past this isolate's copy.
    const follow = async (): Promise<ManifestLookup | null> => {
      pull.cache.forget(name.full);
      const after = await lookupManifest(pull, name, reference);
      return after.manifest === null ? null : after;
    };
    const lead = async (): Promise<ManifestLookup> => {
      // The lease may have been free because a fill just finished: then its work is here.
      const filled = await follow();
      if (filled !== null) return filled;
      const repositoryId = lookup.repository?.id ?? null;
      try {
        if (repositoryId !== null) {
          const known =
            reference.kind === "tag"
              ? await revalidate(org, caller, name, reference.tag, repositoryId)
              : await revive(org, name, reference.digest.text, repositoryId);
          if (known) return known;
        }
        const fetched = await fetchAndStore(org, caller, name, reference);
        report(org, "miss");
        return fetched;
      } catch (error) {
        if (!(error instanceof UpstreamError)) throw error;
        // The tag moved upstream but the new manifest could not be fetched: the old one still beats an error.
        const current =
          repositoryId !== null && reference.kind === "tag" ? await findCurrentTag(deps.sql, repositoryId, reference.tag) : null;
        if (error.kind !== "not_found" && staleServable(current, pull.clock.now())) {
          report(org, "stale");
          return lookupOf(await repositoryInfo(name), current);
        }
        report(org, "error");
        throw upstreamFailure(error, org.target.registry.host, "MANIFEST_UNKNOWN");
      }
    };
    return underLease(deps.shared, `manifest:${name.full}@${ref}`, lead, follow);
  }

  async function fill(org: CacheOrganization, name: RepositoryName, digest: Digest, size: number): Promise<ReadableStream<Uint8Array>> {
    if (deps.blobFill === null) throw new OriginHandoff();
    const upstreamRepo = upstreamRepository(org.target.registry, name.repository);
    try {
      const body = await fillBlob(deps.blobFill, {
        digest,
        size,
        open: (signal) => deps.client.getBlob(org.target, upstreamRepo, digest.text, { purpose: "fill", signal }),
      });
      report(org, "miss");
      // Readers that cached "unknown" for this blob ask again once the bytes are in.
      return body.pipeThrough(new TransformStream({ flush: () => pull.cache.bump(name.full) }));
    } catch (error) {
      report(org, "error");
      const cause = error instanceof BlobFillError ? error.cause : error;
      if (cause instanceof UpstreamError) throw upstreamFailure(cause, org.target.registry.host, "BLOB_UNKNOWN");
      if (error instanceof BlobFillError) {
        const host = org.target.registry.host;
        const detail = { upstream: host, digest: digest.text, reason: error.message };
        if (error.kind === "wrong-bytes" || error.kind === "size-mismatch") {
          throw new RegistryError("UNAVAILABLE", `upstream registry ${host} sent bytes that do not match ${digest.text}`, detail, 502);
        }
        throw new RegistryError("UNAVAILABLE", `fetching ${digest.text} from upstream registry ${host} failed; try again`, detail);
      }
      throw error;
    }
  }

  return {
    async manifest(caller, name, reference, accepted) {
      const lookup = await lookupManifest(pull, name, reference);
      const org = lookup.manifest === null ? await cacheOrganization(deps, name.namespace) : null;
      if (org === null) {
        const upstream = lookup.repository?.proxyUpstream;
        if (upstream && lookup.manifest !== null) deps.onOutcome?.(upstream, "hit");
        return answerManifest(pull, caller, name, reference, lookup, accepted);
      }
      authorizeRead(pull.config, caller, name, lookup.repository);
      return answerManifest(pull, caller, name, reference, await pullThrough(org, caller, name, reference, lookup), accepted);
    },

    async blob(caller, name, digest, options) {
      const lookup = await lookupBlob(pull, name, digest.text);
      if (lookup.blob !== null || !lookup.repository?.proxyUpstream)
        return { kind: "stored", blob: answerBlob(pull, caller, name, digest, lookup) };
      authorizeRead(pull.config, caller, name, lookup.repository);
      const row = await findManifestBlob(deps.sql, lookup.repository.id, digest.text);
      const org = row === null || row.size === null ? null : await cacheOrganization(deps, name.namespace);
      if (org === null) return { kind: "stored", blob: answerBlob(pull, caller, name, digest, lookup) };
      if (row!.placed) {
        // Stored since this reader cached "unknown": read it again.
        pull.cache.forget(name.full);
        return { kind: "stored", blob: answerBlob(pull, caller, name, digest, await lookupBlob(pull, name, digest.text)) };
      }
      const size = Number(row!.size);
      if (options.head) return { kind: "streamed", digest: digest.text, size, body: null };
      return { kind: "streamed", digest: digest.text, size, body: await fill(org, name, digest, size) };
    },

    async referrers(caller, name, subject, artifactType) {
      const org = await cacheOrganization(deps, name.namespace);
      if (org === null) return local.referrers(caller, name, subject, artifactType);
      return proxiedReferrers(deps, org, local, caller, name, subject, artifactType);
    },
  };
}
