/**
 * One sync of a claimed mirror (Quay's RepoMirrorWorker.perform_mirror): list the
 * upstream's tags, keep those matching the rule's globs, copy each (a tag already at the
 * upstream's digest costs one HEAD), point the tag at it, end the local tags that no
 * longer match, then release the claim with Quay's status, retry and next-start rules.
 * The claim is renewed after every tag; a cancel (or a lost claim) stops the run after
 * the tag in hand. Audit entries use Quay's kinds and metadata.
 */
import { recordAudit } from "../audit.js";
import type { FieldEncrypter } from "../auth/field-encryption.js";
import type { Queryable } from "../ports/sql.js";
import type { PullCache } from "../resources/pull-cache.js";
import { UpstreamError } from "../upstream/types.js";
import { endTag, retargetTag } from "../../db/queries/manifests.js";
import {
  aliveVisibleTags,
  mirrorToken,
  recordMirrorStats,
  updateMirror,
  type ClaimedMirror,
  type MirrorChanges,
} from "../../db/queries/repo-mirror.js";
import { storedRegistryConfig } from "./config-body.js";
import { copyTag, newProgress, type CopyDeps } from "./copy.js";
import { matchingTags, storedGlobs } from "./globs.js";
import { mirrorSourceOf, MirrorReferenceError, type MirrorSource } from "./reference.js";
import { MAX_RETRIES, MirrorStatus } from "./states.js";

export interface SyncDeps extends CopyDeps {
  fields: FieldEncrypter | null;
  cache: PullCache;
  /** How long a claim (and each renewal) holds; a runner that dies is replaced after it. */
  claimMs: number;
}

export type SyncOutcome = "success" | "failed" | "cancelled" | "lost";

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Quay's next start after a success (or retries run out): the next point of the start-date grid. */
export function nextStart(startMs: number | null, intervalSeconds: number, nowMs: number): number {
  const interval = intervalSeconds * 1000;
  if (interval <= 0) return nowMs;
  if (startMs === null) return nowMs + interval;
  return nowMs + interval - ((((nowMs - startMs) % interval) + interval) % interval);
}

class Run {
  readonly progress = newProgress();
  readonly failedTags: string[] = [];
  tagsSynced = 0;
  tagsDeleted = 0;
  token: string | null;
  private readonly message: string;

  constructor(
    readonly deps: SyncDeps,
    readonly mirror: ClaimedMirror,
  ) {
    this.token = mirror.sync_transaction_id;
    this.message = `'${mirror.external_reference}' with tag pattern '${storedGlobs(mirror.rule_value).join(",")}'`;
  }

  /** Quay's worker entry: no performer, no ip; `{verb, namespace, repo, message, tag, tags, stdout, stderr}`. */
  audit(kind: string, verb: string, detail: string | null, extra: Record<string, unknown> = {}): Promise<void> {
    return recordAudit(this.deps.sql, {
      kind,
      namespaceId: this.mirror.namespace_id,
      performerId: null,
      repositoryId: this.mirror.repository_id,
      ip: null,
      metadata: {
        verb,
        namespace: this.mirror.namespace,
        repo: this.mirror.repository,
        message: detail === null ? this.message : `${this.message}: ${detail}`,
        tag: null,
        tags: null,
        stdout: "",
        stderr: "",
        ...extra,
      },
      at: new Date(this.deps.clock.now()),
    });
  }

  /** Renews the claim while this run still holds it; "cancel" when the API cancelled it, "lost" when another owner took it. */
  async renew(): Promise<"held" | "cancel" | "lost"> {
    const now = this.deps.clock.now();
    const renewed = await updateMirror(this.deps.sql, this.mirror.id, { sync_expiration_date: now + this.deps.claimMs }, this.token);
    if (renewed) {
      this.token = (await mirrorToken(this.deps.sql, this.mirror.id))?.token ?? null;
      return "held";
    }
    return (await mirrorToken(this.deps.sql, this.mirror.id))?.status === MirrorStatus.CANCEL ? "cancel" : "lost";
  }

  /** Quay's release_mirror, only while this run holds the claim. */
  async release(status: number): Promise<void> {
    const m = this.mirror;
    const now = this.deps.clock.now();
    const start = m.start_ms === null ? null : Number(m.start_ms);
    const changes: MirrorChanges = { sync_status: status, sync_expiration_date: null };
    const retries = m.sync_retries_remaining - 1;
    if (status === MirrorStatus.FAIL && retries >= 1) changes.sync_retries_remaining = retries;
    else {
      changes.sync_start_date = nextStart(start, m.sync_interval, now);
      changes.sync_retries_remaining = MAX_RETRIES;
    }
    await updateMirror(this.deps.sql, m.id, changes, this.token);
  }
}

async function failRun(run: Run, detail: string): Promise<SyncOutcome> {
  await run.audit("repo_mirror_sync_failed", "end", detail);
  await recordMirrorStats(run.deps.sql, run.mirror.repository_id, {
    runs: 1,
    failures: 1,
    failureMs: run.deps.clock.now(),
    error: detail,
    runTagsDone: 0,
  });
  await run.release(MirrorStatus.FAIL);
  return "failed";
}

/** Ends local tags that the matched list no longer names (Quay's delete_obsolete_tags); the ones it could not end. */
async function deleteObsoleteTags(run: Run, matched: ReadonlySet<string>): Promise<string[]> {
  const { deps, mirror } = run;
  const local = await aliveVisibleTags(deps.sql, mirror.repository_id, deps.clock.now());
  const immutable: string[] = [];
  for (const name of [...local.keys()].sort()) {
    if (matched.has(name)) continue;
    const outcome = await deps.sql.transaction((tx) => endTag(tx, deps.clock, mirror.repository_id, name));
    if (outcome === "immutable") immutable.push(name);
    else if (outcome !== null) run.tagsDeleted++;
  }
  return immutable;
}

async function syncTag(run: Run, source: MirrorSource, tag: string, localDigest: string | undefined): Promise<boolean> {
  const { deps, mirror } = run;
  const repository = { id: mirror.repository_id, namespaceId: mirror.namespace_id };
  try {
    if (localDigest !== undefined) {
      const head = await deps.client.headManifest(source.target, source.repository, tag, { purpose: "fill" });
      if (head.digest === localDigest) return true;
    }
    const copied = await copyTag(deps, source, repository, tag, run.progress);
    const outcome = await deps.sql.transaction((tx: Queryable) =>
      retargetTag(tx, deps.clock, mirror.repository_id, tag, copied.manifestId),
    );
    if (outcome.kind === "immutable") throw new Error(`tag '${tag}' is immutable`);
    await deps.cache.bump(`${mirror.namespace}/${mirror.repository}`);
    await run.audit("repo_mirror_sync_tag_success", "finish", null, { tag });
    return true;
  } catch (error) {
    await run.audit("repo_mirror_sync_tag_failed", "finish", describe(error), { tag });
    return false;
  }
}

/** Syncs one claimed mirror and releases it; what became of the run. */
export async function syncMirror(deps: SyncDeps, mirror: ClaimedMirror): Promise<SyncOutcome> {
  const run = new Run(deps, mirror);
  const insecure = storedRegistryConfig(mirror.external_registry_config).verify_tls === false;
  let source: MirrorSource;
  try {
    source = await mirrorSourceOf(mirror, insecure, deps.fields);
  } catch (error) {
    const detail = error instanceof MirrorReferenceError ? "Source registry location is not allowed" : describe(error);
    return failRun(run, detail);
  }
  await run.audit("repo_mirror_sync_started", "start", null);
  let upstreamTags: string[];
  try {
    upstreamTags = await deps.client.listTags(source.target, source.repository, { purpose: "fill" });
  } catch (error) {
    return failRun(run, error instanceof UpstreamError ? error.message : describe(error));
  }
  const matched = matchingTags(upstreamTags, storedGlobs(mirror.rule_value));
  if (matched.length === 0) {
    await run.audit("repo_mirror_sync_success", "end", "No tags matched", { tags: "No tags matched" });
    await recordMirrorStats(deps.sql, mirror.repository_id, { runs: 1, successMs: deps.clock.now(), runTagsTotal: 0, runTagsDone: 0 });
    await run.release(MirrorStatus.SUCCESS);
    return "success";
  }
  await recordMirrorStats(deps.sql, mirror.repository_id, { runTagsTotal: matched.length, runTagsDone: 0 });
  const local = await aliveVisibleTags(deps.sql, mirror.repository_id, deps.clock.now());
  let stop: "cancel" | "lost" | null = null;
  for (const [index, tag] of matched.entries()) {
    if (await syncTag(run, source, tag, local.get(tag))) run.tagsSynced++;
    else run.failedTags.push(tag);
    await recordMirrorStats(deps.sql, mirror.repository_id, { runTagsDone: index + 1 });
    const claim = await run.renew();
    if (claim !== "held") {
      stop = claim;
      break;
    }
  }
  // As Quay: obsolete tags go after a partial failure and a cancel too.
  const immutable = stop === "lost" ? [] : await deleteObsoleteTags(run, new Set(matched));
  if (run.tagsDeleted > 0) await deps.cache.bump(`${mirror.namespace}/${mirror.repository}`);
  const { progress } = run;
  const counters = {
    runs: 1,
    tagsSynced: run.tagsSynced,
    tagsFailed: run.failedTags.length,
    tagsDeleted: run.tagsDeleted,
    bytesCopied: progress.bytesCopied,
    blobsCopied: progress.blobsCopied,
    blobsLinked: progress.blobsLinked,
  };
  if (stop !== null) {
    await recordMirrorStats(deps.sql, mirror.repository_id, counters);
    if (stop === "cancel") await run.audit("repo_mirror_sync_failed", "Cancelled", "Cancelled");
    return stop === "cancel" ? "cancelled" : "lost";
  }
  const failed = [...run.failedTags, ...immutable];
  if (failed.length > 0) {
    const tags = matched.map((t) => (run.failedTags.includes(t) ? `${t}(FAILED)` : t)).join(", ");
    const detail = `PARTIAL SYNC${immutable.length > 0 ? `; immutable tags not deleted: ${immutable.join(", ")}` : ""}`;
    await run.audit("repo_mirror_sync_failed", "end", detail, { tags });
    await recordMirrorStats(deps.sql, mirror.repository_id, {
      ...counters,
      failures: 1,
      failureMs: deps.clock.now(),
      error: `tags failed: ${failed.join(", ")}`,
    });
    await run.release(MirrorStatus.FAIL);
    return "failed";
  }
  await run.audit("repo_mirror_sync_success", "end", null, { tags: matched.join(", ") });
  await recordMirrorStats(deps.sql, mirror.repository_id, { ...counters, successMs: deps.clock.now(), error: null });
  await run.release(MirrorStatus.SUCCESS);
  return "success";
}
