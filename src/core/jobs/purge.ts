/**
 * The purge job (Quay's repositorygcworker and namespacegcworker): repositories marked
 * for deletion lose every dependent row and then their own, one repository per
 * transaction, claimed so two runners split the work; GC's storage step then deletes
 * the blobs no other repository uses, rows first and objects after, under the digest
 * lock. A namespace marked for deletion first has its repositories marked; once they
 * are purged, its robots, teams and every other row naming it go, then its own row.
 */
import type { Registry } from "../registry.js";
import {
  claimDeletedNamespace,
  claimDeletedRepository,
  markRepositoriesOfDeletedNamespaces,
  purgeNamespaceRows,
  purgeRepositoryRows,
} from "../../db/queries/purge.js";
import { attempt, collectStorages, withGcRun, type GcRun } from "./gc.js";
import type { JobContext } from "./scheduler.js";

/** Repositories per run: each can be large, and the next tick takes more. */
export const PURGE_BATCH = 10;

export function purgeDeleted(registry: Registry, context: JobContext, batch = PURGE_BATCH): Promise<number> {
  return withGcRun(registry, context, async (run) => {
    const now = new Date(registry.clock.now());
    await run.step((tx) => markRepositoriesOfDeletedNamespaces(tx, now));
    await purgeRepositories(run, batch);
    await purgeNamespaces(run, now, batch);
  });
}

async function purgeRepositories(run: GcRun, batch: number): Promise<void> {
  const quota = run.registry.config.quota.enabled;
  for (let purged = 0; purged < batch; purged++) {
    const result = await attempt(run, "a deleted repository", () =>
      run.step(async (tx) => {
        const repository = await claimDeletedRepository(tx);
        return repository && { name: repository.name, storages: await purgeRepositoryRows(tx, repository, quota) };
      }),
    );
    if (!result) return;
    run.context.report(`repository ${result.name}`);
    run.processed++;
    await collectStorages(run, result.storages);
  }
}

async function purgeNamespaces(run: GcRun, now: Date, batch: number): Promise<void> {
  for (let purged = 0; purged < batch; purged++) {
    const name = await attempt(run, "a deleted namespace", () =>
      run.step(async (tx) => {
        const namespace = await claimDeletedNamespace(tx, now);
        if (namespace === null) return null;
        await purgeNamespaceRows(tx, namespace);
        return namespace.name;
      }),
    );
    if (name === null) return;
    run.context.report(`namespace ${name}`);
    run.processed++;
  }
}
