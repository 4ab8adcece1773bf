/**
 * The purge job (Quay's repositorygcworker): repositories marked for deletion lose every
 * dependent row and then their own, one repository per transaction, claimed so two
 * runners split the work; then GC's storage step deletes the blobs no other repository
 * uses, rows first and objects after, under the digest lock.
 */
import type { Registry } from "../registry.js";
import { claimDeletedRepository, purgeRepositoryRows } from "../../db/queries/purge.js";
import { attempt, collectStorages, withGcRun } from "./gc.js";
import type { JobContext } from "./scheduler.js";

/** Repositories per run: each can be large, and the next tick takes more. */
export const PURGE_BATCH = 10;

export function purgeDeletedRepositories(registry: Registry, context: JobContext, batch = PURGE_BATCH): Promise<number> {
  const quota = registry.config.quota.enabled;
  return withGcRun(registry, context, async (run) => {
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
  });
}
