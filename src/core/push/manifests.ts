/**
 * Manifest writes: `PUT /manifests/<tag|digest>` (with OCI 1.1's `?tag=` for several
 * tags at once) and deletes by digest or tag — each one transaction that leaves the
 * rows exactly as Quay would, then one cache bump before the client hears back.
 */
import { RegistryError } from "../errors/registry-error.js";
import { parseManifest, requiredBlobs, type ParsedManifest } from "../manifests/parse.js";
import type { Digest } from "../model/digest.js";
import { isValidTag } from "../model/names.js";
import type { Reference } from "../model/reference.js";
import type { Clock } from "../ports/clock.js";
import type { Queryable, Sql } from "../ports/sql.js";
import type { PullCache } from "../resources/pull-cache.js";
import {
  aliveTagNames,
  findManifestDigest,
  endTag,
  findRepositoryManifests,
  findRepositoryStorages,
  insertManifest,
  linkManifest,
  retargetTag,
} from "../../db/queries/manifests.js";
import { quotaExceeded, quotaVerdict, quotaWarning, type QuotaSettings } from "./quota.js";
import { trackedMetadata, type PushTarget } from "./target.js";
import { recordAudit } from "../audit.js";
import { addManifestToTotals } from "../../db/queries/quota.js";
import { lockBlobDigests } from "../../db/queries/uploads.js";
import { EXPIRES_AFTER, findExpiresAfter, findStorageObject, insertManifestLabel } from "../../db/queries/manifest-labels.js";
import type { BlobStore } from "../ports/blob-store.js";
import { expiresAfterLabel, parseExpiresAfter } from "./expires-after.js";

/** Quay's hidden tag keeping a manifest pushed by digest alive for a while (PUSH_TEMP_TAG_EXPIRATION_SEC). */
const TEMP_TAG_LIFETIME_MS = 3600_000;

export interface ManifestWriteDeps {
  sql: Sql;
  clock: Clock;
  cache: PullCache;
  /** Read for the image config's `quay.expires-after` label. */
  blobs: BlobStore;
  quota: QuotaSettings;
  /** PIER_PROXY_CACHE: writes into cache organizations are refused. */
  proxyCache: boolean;
  /**
   * After a manifest PUT, with the storage ids of its blobs (Quay queues them for
   * replication); a failure here does not fail the push.
   */
  onBlobsPushed?: (storageIds: readonly number[]) => Promise<unknown>;
}

export interface PushedManifest {
  digest: string;
  /** The tags set by this push (for OCI-Tag headers). */
  tags: string[];
  subject: string | null;
  /** Set when the namespace reached a Warning quota limit. */
  quotaWarning: string | null;
}

async function digestOf(bytes: Uint8Array, algorithm: "sha256" | "sha512"): Promise<string> {
  const hash = new Uint8Array(await crypto.subtle.digest(algorithm === "sha256" ? "SHA-256" : "SHA-512", bytes as Uint8Array<ArrayBuffer>));
  return `${algorithm}:${Array.from(hash, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** Storage ids of the manifest's blobs and ids of its child manifests, each checked against the repository. */
async function references(
  tx: Queryable,
  target: PushTarget,
  manifest: ParsedManifest,
): Promise<{ storages: number[]; children: number[] }> {
  const blobs = requiredBlobs(manifest);
  // GC collects a blob only under its digest lock, so what is found here stays until commit.
  await lockBlobDigests(
    tx,
    blobs.map((b) => b.digest),
  );
  const stored = await findRepositoryStorages(
    tx,
    target.id,
    blobs.map((b) => b.digest),
  );
  for (const blob of blobs) {
    const found = stored.get(blob.digest);
    if (!found) throw new RegistryError("MANIFEST_BLOB_UNKNOWN", undefined, { digest: blob.digest });
    if (found.size !== null && found.size !== blob.size) {
      throw new RegistryError("MANIFEST_INVALID", undefined, { message: `blob ${blob.digest} has ${found.size} bytes, not ${blob.size}` });
    }
  }
  const entries = manifest.kind === "list" ? manifest.manifests : [];
  const children = await findRepositoryManifests(
    tx,
    target.id,
    entries.map((m) => m.digest),
    true,
  );
  for (const entry of entries) {
    const found = children.get(entry.digest);
    if (!found) throw new RegistryError("MANIFEST_BLOB_UNKNOWN", undefined, { digest: entry.digest });
    if (found.size !== entry.size) {
      throw new RegistryError("MANIFEST_INVALID", undefined, {
        message: `manifest ${entry.digest} has ${found.size} bytes, not ${entry.size}`,
      });
    }
  }
  return { storages: blobs.map((b) => stored.get(b.digest)!.id), children: entries.map((e) => children.get(e.digest)!.id) };
}

async function countTowardsQuota(tx: Queryable, quota: QuotaSettings, target: PushTarget, manifestId: number) {
  const size = await addManifestToTotals(tx, target.namespaceId, target.id, manifestId);
  return size === null ? null : quotaVerdict(tx, quota, target.namespaceId, size);
}

function layersSize(manifest: ParsedManifest): number | null {
  return manifest.kind === "image" ? manifest.layers.reduce((sum, layer) => sum + layer.size, 0) : null;
}

export interface ManifestPut {
  reference: Reference;
  contentType: string | undefined;
  bytes: Uint8Array;
  /** `?tag=` values (OCI 1.1): extra tags for a push by digest. */
  extraTags: readonly string[];
}

export async function putManifest(deps: ManifestWriteDeps, target: PushTarget, put: ManifestPut): Promise<PushedManifest> {
  const manifest = parseManifest(put.contentType, put.bytes);
  const algorithm = put.reference.kind === "digest" && put.reference.digest.algorithm === "sha512" ? "sha512" : "sha256";
  const digest = await digestOf(put.bytes, algorithm);
  if (put.reference.kind === "digest" && put.reference.digest.text !== digest) {
    throw new RegistryError("DIGEST_INVALID", "manifest digest mismatch", { expected: put.reference.digest.text, computed: digest });
  }
  const tags = [...new Set([...(put.reference.kind === "tag" ? [put.reference.tag] : []), ...put.extraTags])];
  for (const tag of tags) if (!isValidTag(tag)) throw new RegistryError("MANIFEST_INVALID", undefined, { message: `invalid tag ${tag}` });

  const text = new TextDecoder().decode(put.bytes);
  const label = await newManifestLabel(deps, target, manifest, digest, text);
  const now = deps.clock.now();
  let warning: string | null = null;
  let pushedStorages: number[] = [];
  await deps.sql.transaction(async (tx) => {
    const { storages, children } = await references(tx, target, manifest);
    pushedStorages = storages;
    const row = await insertManifest(tx, {
      repositoryId: target.id,
      digest,
      mediaType: manifest.mediaType,
      text,
      configMediaType: manifest.kind === "image" ? manifest.config.mediaType : null,
      layersCompressedSize: layersSize(manifest),
      subject: manifest.subject?.digest ?? null,
      artifactType: manifest.artifactType,
    });
    if (row.created) {
      await linkManifest(tx, target.id, row.id, storages, children, new Date(now));
      // Quay records the new sizes, then checks them; a refusal here rolls everything back.
      const verdict = deps.quota.enabled ? await countTowardsQuota(tx, deps.quota, target, row.id) : null;
      if (verdict?.severity === "Reject") throw quotaExceeded();
      if (verdict?.severity === "Warning") warning = quotaWarning(verdict);
      if (label !== null) await insertManifestLabel(tx, target.id, row.id, EXPIRES_AFTER, label);
    }
    // Quay re-reads the label from the rows on every push, so a re-pushed manifest keeps it.
    const lifetimeMs = tags.length > 0 ? parseExpiresAfter((await findExpiresAfter(tx, row.id)) ?? "") : null;
    // Tag locks in one order, so two pushes with the same `?tag=` set cannot deadlock.
    for (const tag of [...tags].sort()) {
      const outcome = await retargetTag(tx, deps.clock, target.id, tag, row.id, lifetimeMs === null ? {} : { lifetimeMs });
      if (outcome.kind === "immutable") throw new RegistryError("TAG_IMMUTABLE", undefined, { message: `tag '${tag}' is immutable` });
    }
    // Pushed by digest with no tag: a hidden temporary tag keeps it from GC for a while;
    // a referrer's never ends (Quay), so it lives as long as its subject is kept.
    if (tags.length === 0) {
      await retargetTag(tx, deps.clock, target.id, `$temp-${crypto.randomUUID()}`, row.id, {
        hidden: true,
        ...(manifest.subject ? {} : { lifetimeMs: TEMP_TAG_LIFETIME_MS }),
      });
    }
    await audit(tx, target, "push_repo", now, { tag: tags[0] ?? null, manifest_digest: digest });
  });
  await deps.cache.bump(target.full);
  if (deps.onBlobsPushed && pushedStorages.length > 0) await deps.onBlobsPushed(pushedStorages).catch(() => {});
  return { digest, tags, subject: manifest.subject?.digest ?? null, quotaWarning: warning };
}

/**
 * The `quay.expires-after` label of an image manifest the repository does not hold yet,
 * read from its config blob before the transaction (storage is not read under locks).
 */
async function newManifestLabel(
  deps: ManifestWriteDeps,
  target: PushTarget,
  manifest: ParsedManifest,
  digest: string,
  text: string,
): Promise<string | null> {
  if (manifest.kind !== "image" || (await findRepositoryManifests(deps.sql, target.id, [digest])).size > 0) return null;
  const storage = (await findRepositoryStorages(deps.sql, target.id, [manifest.config.digest])).get(manifest.config.digest);
  const object = storage ? await findStorageObject(deps.sql, storage.id) : null;
  return expiresAfterLabel(deps.blobs, manifest, text, object);
}

/** `DELETE /manifests/<digest>`: every alive tag on it ends (Quay's soft delete); bytes stay for GC. */
export async function deleteManifest(deps: ManifestWriteDeps, target: PushTarget, digest: Digest): Promise<void> {
  await deps.sql.transaction(async (tx) => {
    const found = await findRepositoryManifests(tx, target.id, [digest.text]);
    const manifest = found.get(digest.text);
    // Candidates only: each is checked again under its tag's lock, as a push may move it meanwhile.
    const tags = manifest ? await aliveTagNames(tx, manifest.id, deps.clock.now()) : [];
    let ended = 0;
    for (const tag of tags) {
      const outcome = await endTag(tx, deps.clock, target.id, tag.name, manifest!.id);
      if (outcome === "immutable") throw new RegistryError("TAG_IMMUTABLE", undefined, { message: `tag '${tag.name}' is immutable` });
      if (outcome === null) continue;
      ended++;
      if (!tag.hidden) await audit(tx, target, "delete_tag", outcome.atMs, { tag: tag.name, digest: digest.text });
    }
    // Already deleted (no alive tag) or never pushed: unknown, as Quay answers.
    if (ended === 0) throw new RegistryError("MANIFEST_UNKNOWN", undefined, { digest: digest.text });
  });
  await deps.cache.bump(target.full);
}

/** `DELETE /manifests/<tag>` (OCI 1.1 tag deletion): only the tag ends. */
export async function deleteTag(deps: ManifestWriteDeps, target: PushTarget, tag: string): Promise<void> {
  await deps.sql.transaction(async (tx) => {
    const outcome = await endTag(tx, deps.clock, target.id, tag);
    if (outcome === null) throw new RegistryError("MANIFEST_UNKNOWN", undefined, { tag });
    if (outcome === "immutable") throw new RegistryError("TAG_IMMUTABLE", undefined, { message: `tag '${tag}' is immutable` });
    const digest = (await findManifestDigest(tx, outcome.manifestId)) ?? "";
    await audit(tx, target, "delete_tag", outcome.atMs, { tag, digest });
  });
  await deps.cache.bump(target.full);
}

function audit(tx: Queryable, target: PushTarget, kind: string, now: number, extra: Record<string, unknown>): Promise<void> {
  return recordAudit(tx, {
    kind,
    namespaceId: target.namespaceId,
    performerId: target.actor.performer?.id ?? null,
    repositoryId: target.id,
    ip: target.actor.ip,
    metadata: trackedMetadata(target, extra),
    at: new Date(now),
  });
}
