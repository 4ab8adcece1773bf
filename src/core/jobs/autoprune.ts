/**
 * The auto-prune jobs (Quay's AutoPruneWorker). `autoprune` claims up to `tasks`
 * namespace tasks not run within the minimum interval (SKIP LOCKED, so runners split
 * them), drops tasks whose namespace has no policy left, applies the policies and
 * records "success" or "failure: <message>". `autoprune-default` applies the
 * registry-wide default policy to every enabled namespace, a page per run, once a day.
 */
import type { RegistryConfig } from "../config.js";
import type { Registry } from "../registry.js";
import { PullCache } from "../resources/pull-cache.js";
import { parseStoredPolicy, type AutoPrunePolicyConfig } from "../autoprune/policy.js";
import { pruneNamespace, type PruneRun } from "../autoprune/prune.js";
import type { JobContext } from "./scheduler.js";
import {
  claimTask,
  deleteTask,
  listDueTasks,
  listEnabledNamespaces,
  listNamespaceRepositoryPolicies,
  listPolicies,
  setTaskStatus,
  type ClaimedTask,
} from "../../db/queries/autoprune.js";

export interface AutoPruneOptions {
  /** Quay's AUTO_PRUNING_BATCH_SIZE: tasks per run. */
  tasks: number;
  /** Quay's AUTOPRUNE_TASK_RUN_MINIMUM_INTERVAL_MINUTES. */
  intervalMinutes: number;
  /** Tags one run may prune: keeps a run inside a scheduled Worker's budget. */
  maxTags: number;
}

export const AUTOPRUNE_DEFAULTS: AutoPruneOptions = { tasks: 10, intervalMinutes: 60, maxTags: 500 };

function pruneRun(registry: Registry, context: JobContext, maxTags: number): PruneRun {
  const cache = new PullCache({ cache: registry.cache, clock: registry.clock, maxAgeMs: registry.config.sharedCacheMaxAgeMs });
  return { registry, context, cache, budget: { left: maxTags } };
}

function usable(rows: readonly { policy: string }[]): AutoPrunePolicyConfig[] {
  return rows.flatMap((row) => parseStoredPolicy(row.policy) ?? []);
}

/** Runs one claimed task; false when the budget ran out before the namespace was done. */
async function runTask(run: PruneRun, task: ClaimedTask): Promise<boolean | "no policies"> {
  const sql = run.registry.sql;
  const namespaceRows = await listPolicies(sql, { kind: "namespace", namespaceId: task.namespace_id });
  const repositoryRows = await listNamespaceRepositoryPolicies(sql, task.namespace_id);
  if (namespaceRows.length === 0 && repositoryRows.length === 0) return "no policies";
  const byRepository = new Map<number, { name: string; policies: AutoPrunePolicyConfig[] }>();
  for (const row of repositoryRows) {
    const entry = byRepository.get(row.repository_id) ?? { name: row.name, policies: [] };
    entry.policies.push(...usable([row]));
    byRepository.set(row.repository_id, entry);
  }
  return pruneNamespace(run, { id: task.namespace_id, name: task.namespace }, usable(namespaceRows), byRepository);
}

/** One batch of namespace tasks; how many tasks it ran. A dry run claims nothing and reports the tags it would prune. */
export async function runAutoPrune(registry: Registry, context: JobContext, options = AUTOPRUNE_DEFAULTS): Promise<number> {
  const run = pruneRun(registry, context, options.maxTags);
  const intervalMs = options.intervalMinutes * 60_000;
  if (context.dryRun) {
    const due = await listDueTasks(registry.sql, registry.clock.now(), intervalMs, options.tasks);
    for (const task of due) if (run.budget.left > 0) await runTask(run, task);
    return due.length;
  }
  let ran = 0;
  for (; ran < options.tasks && run.budget.left > 0; ran++) {
    const now = registry.clock.now();
    const task = await registry.sql.transaction((tx) => claimTask(tx, now, intervalMs));
    if (task === null) break;
    try {
      const outcome = await runTask(run, task);
      if (outcome === "no policies") await deleteTask(registry.sql, task.id);
      // Budget spent before the namespace was done: queued again for the next run instead of waiting an interval.
      else if (outcome === false) await setTaskStatus(registry.sql, task.id, "queued", null);
      else await setTaskStatus(registry.sql, task.id, "success");
    } catch (error) {
      await setTaskStatus(registry.sql, task.id, `failure: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return ran;
}

const CURSOR_KEY = "pier:autoprune-default:cursor";
const DONE_KEY = "pier:autoprune-default:done";
const LOCK_KEY = "pier:autoprune-default:lock";

export interface DefaultPruneOptions {
  /** Namespaces per run (Quay pages 50). */
  namespaces: number;
  /** Quay's AUTO_PRUNING_DEFAULT_POLICY_POLL_PERIOD: a pass starts at most this often. */
  periodSeconds: number;
  /** Quay's AUTOPRUNE_DEFAULT_POLICY_TIMEOUT: the lock's lifetime. */
  lockSeconds: number;
  maxTags: number;
}

export const DEFAULT_PRUNE_DEFAULTS: DefaultPruneOptions = { namespaces: 50, periodSeconds: 86_400, lockSeconds: 3_600, maxTags: 500 };

/**
 * One page of the registry-wide default policy's pass: namespaces after the cursor in
 * the shared cache, under a lock there (Quay's REGISTRY_WIDE_AUTOPRUNE). Repository
 * policies are not part of this pass. A dry run reports the page at the cursor and moves nothing.
 */
export async function runDefaultAutoPrune(registry: Registry, context: JobContext, options = DEFAULT_PRUNE_DEFAULTS): Promise<number> {
  const policy = registry.config.defaultNamespaceAutoPrunePolicy;
  if (policy === null) return 0;
  const { cache } = registry;
  const cursor = await cache.get(CURSOR_KEY);
  if (cursor === null && (await cache.get(DONE_KEY)) !== null) return 0;
  const token = crypto.randomUUID();
  if (!context.dryRun && !(await cache.setIfAbsent(LOCK_KEY, token, options.lockSeconds))) return 0;
  try {
    const after = Number(cursor ?? 0) || 0;
    const page = await listEnabledNamespaces(registry.sql, after, options.namespaces);
    const run = pruneRun(registry, context, options.maxTags);
    let next = after;
    for (const ns of page) {
      if (!(await pruneNamespace(run, { id: ns.id, name: ns.username }, [policy], new Map()))) break;
      next = ns.id;
    }
    if (context.dryRun) return page.length;
    if (page.length < options.namespaces && next === (page[page.length - 1]?.id ?? after)) {
      await cache.delete([CURSOR_KEY]);
      await cache.set(DONE_KEY, String(registry.clock.now()), options.periodSeconds);
    } else {
      await cache.set(CURSOR_KEY, String(next), options.periodSeconds * 2);
    }
    return page.length;
  } finally {
    if (!context.dryRun && (await cache.get(LOCK_KEY)) === token) await cache.delete([LOCK_KEY]);
  }
}

/** Both jobs run only with Quay's FEATURE_AUTO_PRUNE; the default pass also needs a default policy. */
export const autoPruneEnabled = (config: RegistryConfig) => config.autoPrune;
export const defaultAutoPruneEnabled = (config: RegistryConfig) => config.autoPrune && config.defaultNamespaceAutoPrunePolicy !== null;
