/**
 * The quota backfill job (Quay's quotatotalworker): namespaces and repositories without
 * a complete total get one recomputed from scratch, so the incremental totals the push
 * path keeps (src/db/queries/quota.ts) have something true to add to. Unlike Quay, a
 * total whose backfill started but never completed (a killed runner) is retried, and
 * repositories are found on their own rather than only with their namespace.
 */
import type { Registry } from "../registry.js";
import type { Queryable } from "../ports/sql.js";
import { computeNamespaceSize, computeRepositorySize } from "../../db/queries/quota.js";
import {
  claimIncompleteNamespaceTotal,
  claimIncompleteRepositoryTotal,
  completeNamespaceTotal,
  completeRepositoryTotal,
  seedMissingNamespaceTotals,
  seedMissingRepositoryTotals,
} from "../../db/queries/quota-backfill.js";

/** Quay's QUOTA_BACKFILL_BATCH_SIZE. */
export const QUOTA_BACKFILL_BATCH = 100;

type Claim = (tx: Queryable) => Promise<number | null>;
type Complete = (tx: Queryable, id: number, startMs: number, size: number) => Promise<void>;
type Compute = (tx: Queryable, id: number) => Promise<number>;

/** Recomputes one claimed total in its own short transaction; false when none was left to claim. */
async function backfillOne(registry: Registry, claim: Claim, compute: Compute, complete: Complete): Promise<boolean> {
  return registry.sql.transaction(async (tx) => {
    const id = await claim(tx);
    if (id === null) return false;
    const startMs = registry.clock.now();
    await complete(tx, id, startMs, await compute(tx, id));
    return true;
  });
}

/** One bounded batch: up to `batchSize` totals recomputed, namespaces first; how many. */
export async function backfillQuotaTotals(registry: Registry, batchSize = QUOTA_BACKFILL_BATCH): Promise<number> {
  await seedMissingNamespaceTotals(registry.sql, batchSize);
  await seedMissingRepositoryTotals(registry.sql, batchSize);
  let done = 0;
  while (done < batchSize && (await backfillOne(registry, claimIncompleteNamespaceTotal, computeNamespaceSize, completeNamespaceTotal)))
    done++;
  while (done < batchSize && (await backfillOne(registry, claimIncompleteRepositoryTotal, computeRepositorySize, completeRepositoryTotal)))
    done++;
  return done;
}
