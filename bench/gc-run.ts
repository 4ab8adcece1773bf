/**
 * The GC pass the benchmark measures, as its own process (so its peak RSS is its own):
 * opens the registry as the origin does (DATABASE_URL, REDIS_URL, S3_*), runs GC batches
 * until one finds nothing, counting SQL statements and transactions, and prints
 * `GC_RESULT <json>`.
 */
import { collectGarbage } from "../src/core/jobs/gc.js";
import type { Queryable, Sql } from "../src/core/ports/sql.js";
import { openOriginRegistry } from "../workers/origin-registry.js";

const { registry, close } = await openOriginRegistry(process.env, { migrateFirst: false });
let statements = 0;
let transactions = 0;
const counting = (target: Queryable): Queryable => ({
  query: (text, params) => {
    statements++;
    return target.query(text, params);
  },
});
const sql: Sql = {
  ...counting(registry.sql),
  transaction: (fn) => {
    transactions++;
    return registry.sql.transaction((tx) => fn(counting(tx)));
  },
  close: () => registry.sql.close(),
};
const kinds: Record<string, number> = {};
const context = {
  dryRun: false,
  report: (line: string) => {
    const kind = line.split(" ")[0]!;
    kinds[kind] = (kinds[kind] ?? 0) + 1;
  },
  reclaimed: () => {},
};
const started = performance.now();
let batches = 0;
let processed = 0;
for (;;) {
  batches++;
  const items = await collectGarbage({ ...registry, sql }, context);
  processed += items;
  if (items === 0) break;
}
const seconds = (performance.now() - started) / 1000;
await close();
console.log(
  `GC_RESULT ${JSON.stringify({ seconds, batches, processed, kinds, statements, transactions, maxRssBytes: process.resourceUsage().maxRSS * 1024 })}`,
);
