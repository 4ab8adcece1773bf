/**
 * Applying auto-prune policies to a namespace (Quay's execute_namespace_polices /
 * execute_policies_for_repo): per repository in state NORMAL, every creation_date policy
 * first, then every number_of_tags policy. Candidates are alive, visible, mutable,
 * non-Cosign tags; pruning is the normal tag delete (the tag enters the time machine)
 * under the tag's lock, audited as `autoprune_tag_delete`. Work is bounded by a tag budget.
 */
import { recordAudit } from "../audit.js";
import type { Registry } from "../registry.js";
import type { PullCache } from "../resources/pull-cache.js";
import type { JobContext } from "../jobs/scheduler.js";
import { durationMs, type AutoPrunePolicyConfig } from "./policy.js";
import { endTag } from "../../db/queries/manifests.js";
import {
  listNormalRepositories,
  tagsBeyondCount,
  tagsOlderThan,
  type CandidateQuery,
  type PruneCandidate,
} from "../../db/queries/autoprune.js";

/** Quay pages candidates 100 at a time and repositories 50 at a time. */
const TAG_PAGE = 100;
const REPOSITORY_PAGE = 50;

/** How many more tags this run may prune (or report); shared across namespaces of one run. */
export interface PruneBudget {
  left: number;
}

export interface PruneNamespace {
  id: number;
  name: string;
}

export interface PruneRun {
  registry: Registry;
  context: JobContext;
  cache: PullCache;
  budget: PruneBudget;
}

/** Quay's ordering: creation_date policies before number_of_tags ones. */
function ordered(policies: readonly AutoPrunePolicyConfig[]): AutoPrunePolicyConfig[] {
  return [...policies.filter((p) => p.method === "creation_date"), ...policies.filter((p) => p.method === "number_of_tags")];
}

function page(run: PruneRun, repositoryId: number, policy: AutoPrunePolicyConfig, excluding: readonly string[]): Promise<PruneCandidate[]> {
  const query: CandidateQuery = {
    repositoryId,
    nowMs: run.registry.clock.now(),
    pattern: policy.tag_pattern,
    patternMatches: policy.tag_pattern_matches,
    limit: Math.min(TAG_PAGE, run.budget.left),
    excluding,
  };
  if (policy.method === "creation_date") return tagsOlderThan(run.registry.sql, query, durationMs(policy.value as string)!);
  return tagsBeyondCount(run.registry.sql, query, Math.min(policy.value as number, Number.MAX_SAFE_INTEGER));
}

/** Ends `candidates` in one transaction; the names it ended (a tag moved or made immutable meanwhile is skipped). */
async function prunePage(run: PruneRun, ns: PruneNamespace, repo: { id: number; name: string }, candidates: PruneCandidate[]) {
  const { registry } = run;
  return registry.sql.transaction(async (tx) => {
    const ended: string[] = [];
    // Tag locks in one order, as pushes take them, so a prune and a push cannot deadlock.
    for (const tag of [...candidates].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const outcome = await endTag(tx, registry.clock, repo.id, tag.name, tag.manifest_id);
      if (outcome === null || outcome === "immutable") continue;
      ended.push(tag.name);
      await recordAudit(tx, {
        kind: "autoprune_tag_delete",
        namespaceId: ns.id,
        performerId: null,
        repositoryId: repo.id,
        ip: null,
        metadata: { performer: "autoprune worker", namespace: ns.name, repo: repo.name, tag: tag.name },
        at: new Date(outcome.atMs),
      });
    }
    return ended;
  });
}

/** Applies `policies` to one repository; how many tags it pruned (or, in a dry run, would prune). */
export async function pruneRepository(
  run: PruneRun,
  ns: PruneNamespace,
  repo: { id: number; name: string },
  policies: readonly AutoPrunePolicyConfig[],
): Promise<number> {
  // Tags handled in this pass: reported in a dry run (so later policies count them gone) or skipped.
  const handled: string[] = [];
  let pruned = 0;
  for (const policy of ordered(policies)) {
    while (run.budget.left > 0) {
      const candidates = await page(run, repo.id, policy, handled);
      if (candidates.length === 0) break;
      run.budget.left -= candidates.length;
      const ended = run.context.dryRun ? candidates.map((c) => c.name) : await prunePage(run, ns, repo, candidates);
      const endedSet = new Set(ended);
      for (const candidate of candidates) if (run.context.dryRun || !endedSet.has(candidate.name)) handled.push(candidate.name);
      for (const name of ended) run.context.report(`${ns.name}/${repo.name}:${name}`);
      pruned += ended.length;
    }
  }
  if (pruned > 0 && !run.context.dryRun) await run.cache.bump(`${ns.name}/${repo.name}`);
  return pruned;
}

/**
 * Runs a namespace's policies: namespace policies on every NORMAL repository (paged by
 * id) together with that repository's own; without namespace policies, only the
 * repositories that have their own. Returns false when the budget ran out first.
 */
export async function pruneNamespace(
  run: PruneRun,
  ns: PruneNamespace,
  namespacePolicies: readonly AutoPrunePolicyConfig[],
  repositoryPolicies: ReadonlyMap<number, { name: string; policies: AutoPrunePolicyConfig[] }>,
): Promise<boolean> {
  if (namespacePolicies.length === 0) {
    for (const [id, repo] of repositoryPolicies) {
      if (run.budget.left <= 0) return false;
      await pruneRepository(run, ns, { id, name: repo.name }, repo.policies);
    }
    return run.budget.left > 0;
  }
  let after = 0;
  for (;;) {
    const repos = await listNormalRepositories(run.registry.sql, ns.id, after, REPOSITORY_PAGE);
    for (const repo of repos) {
      if (run.budget.left <= 0) return false;
      await pruneRepository(run, ns, repo, [...namespacePolicies, ...(repositoryPolicies.get(repo.id)?.policies ?? [])]);
    }
    if (repos.length < REPOSITORY_PAGE) return run.budget.left > 0;
    after = repos[repos.length - 1]!.id;
  }
}
