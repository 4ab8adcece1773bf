/**
 * Tag writes of Quay's REST API (endpoints/api/tag.py): `PUT …/tag/<tag>` (expiration,
 * then manifest_digest, each its own step as in Quay), `DELETE …/tag/<tag>` and
 * `POST …/tag/<tag>/restore` from the time machine. Every change goes through the
 * per-tag lock of queries/manifests.ts, is audited as Quay audits it, and bumps the pull
 * cache after it commits.
 */
import { changeTagEnd, endTag, findManifestDigest, retargetTag } from "../../db/queries/manifests.js";
import { findExpiresAfter } from "../../db/queries/manifest-labels.js";
import {
  aliveVisibleTagNames,
  clearTagPullStatistics,
  findRestorableManifest,
  findTaggedManifest,
} from "../../db/queries/management-tags.js";
import type { RepositoryRecord } from "../../db/queries/management-repositories.js";
import type { RepositoryName } from "../model/names.js";
import { isValidTag } from "../model/names.js";
import type { Queryable } from "../ports/sql.js";
import { parseExpiresAfter } from "../push/expires-after.js";
import { audit } from "./audit.js";
import { validateBody } from "./body.js";
import { bumpRepositories, type ManagementDeps, type RequestContext } from "./deps.js";
import { ManagementError } from "./errors.js";
import { requireTagRepository } from "./tags.js";

const INVALID_TAG = 'Invalid tag: must match [A-Za-z0-9_.-], NOT start with "." or "-", and can contain 1-128 characters';

const MOVE_TAG = {
  properties: {
    manifest_digest: { type: ["string", "null"] },
    expiration: { type: ["number", "null"] },
    immutable: { type: "boolean" },
  },
} as const;

const RESTORE_TAG = { properties: { manifest_digest: { type: "string" } } } as const;

/** Quay's LABELED_EXPIRATION_MINIMUM and _MAXIMUM (1h, 104w): the bounds of an expiration set through the API. */
const MIN_EXPIRATION_MS = 3_600_000;
const MAX_EXPIRATION_MS = 104 * 604_800_000;

/** Cosign's signature, attestation and SBOM tags name the manifest they belong to. */
const COSIGN_SUFFIXES = [".sig", ".att", ".sbom"] as const;

interface TagTarget {
  name: RepositoryName;
  record: RepositoryRecord;
}

/** A repository tags may be written in: write role, NORMAL state (Quay's disallow_for_non_normal_repositories). */
async function writableRepository(deps: ManagementDeps, ctx: RequestContext, path: string): Promise<TagTarget> {
  const target = await requireTagRepository(deps, ctx, path, "write");
  if (target.record.state !== 0) {
    const message = `Repository is in read only or mirror mode: ${target.record.state}`;
    throw new ManagementError("repository_read_only", message, { message });
  }
  return target;
}

function tagAudit(tx: Queryable, deps: ManagementDeps, ctx: RequestContext, target: TagTarget, kind: string, metadata: object) {
  return audit(tx, deps, ctx, { kind, namespaceId: target.record.namespace_id, repositoryId: target.record.id, metadata: { ...metadata } });
}

function username(ctx: RequestContext): string | null {
  return ctx.access.caller?.username ?? null;
}

/** The lifetime the manifest's `quay.expires-after` label gives a tag it is moved or restored to. */
async function labelLifetime(tx: Queryable, manifestId: number): Promise<{ lifetimeMs?: number }> {
  const lifetimeMs = parseExpiresAfter((await findExpiresAfter(tx, manifestId)) ?? "");
  return lifetimeMs === null ? {} : { lifetimeMs };
}

/**
 * Quay's bounds, relative to the tag's start for the minimum; the maximum is measured
 * from now (Quay measures it from the start, so tags older than 104 weeks could only be
 * given an end in the past).
 */
function boundedEnd(expirationMs: number, startMs: number, atMs: number): number {
  return Math.min(Math.max(expirationMs, startMs + MIN_EXPIRATION_MS, atMs + 1), atMs + MAX_EXPIRATION_MS);
}

async function changeExpiration(deps: ManagementDeps, ctx: RequestContext, target: TagTarget, tag: string, expiration: number | null) {
  if (expiration !== null && expiration * 1000 <= deps.clock.now())
    throw ManagementError.invalid("Cannot set an expiration date in the past");
  await deps.sql.transaction(async (tx) => {
    const change = await changeTagEnd(tx, deps.clock, target.record.id, tag, (startMs, atMs) =>
      expiration === null ? null : boundedEnd(Math.floor(expiration * 1000), startMs, atMs),
    );
    if (change === null) throw ManagementError.notFound();
    if (change === "immutable") throw ManagementError.invalidMessage(`Cannot set expiration on immutable tag '${tag}'`);
    if (change.previousEndMs === null && expiration === null) return;
    await tagAudit(tx, deps, ctx, target, "change_tag_expiration", {
      username: username(ctx),
      repo: target.name.repository,
      tag,
      namespace: target.name.namespace,
      expiration_date: expiration,
      old_expiration_date: change.previousEndMs,
    });
  });
  await bumpRepositories(deps, [target.name.full]);
}

async function moveTag(deps: ManagementDeps, ctx: RequestContext, target: TagTarget, tag: string, digest: string | null) {
  await deps.sql.transaction(async (tx) => {
    const manifestId = digest === null ? null : await findTaggedManifest(tx, target.record.id, digest, deps.clock.now());
    if (manifestId === null) throw ManagementError.notFound();
    const outcome = await retargetTag(tx, deps.clock, target.record.id, tag, manifestId, await labelLifetime(tx, manifestId));
    if (outcome.kind === "immutable") throw new ManagementError("tag_immutable", `Cannot overwrite immutable tag '${tag}'`);
    const original = outcome.kind === "moved" ? await findManifestDigest(tx, outcome.previousManifestId) : null;
    await tagAudit(tx, deps, ctx, target, outcome.kind === "moved" ? "move_tag" : "create_tag", {
      username: username(ctx),
      repo: target.name.repository,
      tag,
      namespace: target.name.namespace,
      manifest_digest: digest,
      original_manifest_digest: original,
    });
  });
  await bumpRepositories(deps, [target.name.full]);
}

/** `PUT …/tag/<tag>`: expiration first, then manifest_digest (Quay applies them in that order); answers Quay's `"Updated"`. */
export async function updateTag(deps: ManagementDeps, ctx: RequestContext, path: string, tag: string, body: unknown): Promise<string> {
  const target = await writableRepository(deps, ctx, path);
  if (!isValidTag(tag)) throw ManagementError.invalid(INVALID_TAG);
  const request = validateBody(body, MOVE_TAG);
  if ("expiration" in request) await changeExpiration(deps, ctx, target, tag, request.expiration as number | null);
  if ("manifest_digest" in request) await moveTag(deps, ctx, target, tag, request.manifest_digest as string | null);
  return "Updated";
}

/** `DELETE …/tag/<tag>`: the alive row ends now (kept for the time machine), with its Cosign siblings when nothing else holds the manifest. */
export async function deleteRepositoryTag(deps: ManagementDeps, ctx: RequestContext, path: string, tag: string): Promise<void> {
  const target = await writableRepository(deps, ctx, path);
  await deps.sql.transaction(async (tx) => {
    const outcome = await endTag(tx, deps.clock, target.record.id, tag);
    if (outcome === null) throw ManagementError.notFound();
    if (outcome === "immutable") throw new ManagementError("tag_immutable", `Cannot delete immutable tag '${tag}'`);
    await endCosignSiblings(deps, tx, target.record.id, outcome.manifestId);
    await clearTagPullStatistics(tx, target.record.id, tag);
    await tagAudit(tx, deps, ctx, target, "delete_tag", {
      username: username(ctx),
      repo: target.name.repository,
      namespace: target.name.namespace,
      tag,
    });
  });
  await bumpRepositories(deps, [target.name.full]);
}

/** Quay's delete also expires `sha256-<hex>.sig|.att|.sbom` of the manifest once no other visible tag (not Cosign's) holds it. */
async function endCosignSiblings(deps: ManagementDeps, tx: Queryable, repositoryId: number, manifestId: number): Promise<void> {
  const digest = await findManifestDigest(tx, manifestId);
  if (digest === null) return;
  const prefix = digest.replace(":", "-");
  const siblings = COSIGN_SUFFIXES.map((suffix) => prefix + suffix);
  const others = await aliveVisibleTagNames(tx, repositoryId, manifestId, deps.clock.now());
  if (others.some((name) => !siblings.includes(name))) return;
  // An immutable sibling stays; ending the others does not depend on it.
  for (const sibling of siblings) await endTag(tx, deps.clock, repositoryId, sibling);
}

/** `POST …/tag/<tag>/restore {"manifest_digest"}`: the tag points at a manifest the time machine still holds; answers `{}`. */
export async function restoreTag(deps: ManagementDeps, ctx: RequestContext, path: string, tag: string, body: unknown) {
  const target = await writableRepository(deps, ctx, path);
  const digest = validateBody(body, RESTORE_TAG).manifest_digest as string | undefined;
  if (digest === undefined) throw ManagementError.invalidMessage("Missing manifest_digest");
  if (!isValidTag(tag)) throw ManagementError.invalid(INVALID_TAG);
  const windowMs = Number(target.record.namespace_tag_expiration_s) * 1000;
  await deps.sql.transaction(async (tx) => {
    const manifestId = await findRestorableManifest(tx, target.record.id, digest, deps.clock.now() - windowMs);
    if (manifestId === null) throw ManagementError.notFound();
    const lifetime = await labelLifetime(tx, manifestId);
    const outcome = await retargetTag(tx, deps.clock, target.record.id, tag, manifestId, { ...lifetime, reversion: true });
    if (outcome.kind === "immutable") throw new ManagementError("tag_immutable", `Cannot overwrite immutable tag '${tag}'`);
    await tagAudit(tx, deps, ctx, target, "revert_tag", {
      username: username(ctx),
      repo: target.name.repository,
      tag,
      manifest_digest: digest,
    });
  });
  await bumpRepositories(deps, [target.name.full]);
  return {};
}
