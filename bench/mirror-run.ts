/**
 * A job pass the mirror benchmark measures, as its own process (so its peak RSS is its
 * own): opens the registry as the origin does (DATABASE_URL, REDIS_URL, S3_*,
 * PIER_STORAGE_LOCATIONS), runs `repo-mirror` or `replication` batches until one finds
 * nothing (`idle`: none, for the baseline RSS of the same process), and prints
 * `MIRROR_RESULT <json>`.
 */
import { runRepoMirror } from "../src/core/jobs/repo-mirror.js";
import { runReplication } from "../src/core/jobs/replication.js";
import { openOriginRegistry } from "../workers/origin-registry.js";

const job = process.argv[2];
const passes = { "repo-mirror": runRepoMirror, replication: runReplication, idle: async () => 0 } as const;
const run = passes[job as keyof typeof passes];
if (run === undefined) throw new Error("usage: mirror-run.ts repo-mirror|replication|idle");
const { registry, close } = await openOriginRegistry(process.env, { migrateFirst: false });
const lines: string[] = [];
const context = { dryRun: false, report: (line: string) => void lines.push(line), reclaimed: () => {} };
const started = performance.now();
let batches = 0;
for (;;) {
  batches++;
  if ((await run(registry, context)) === 0) break;
}
const seconds = (performance.now() - started) / 1000;
await close();
console.log(`MIRROR_RESULT ${JSON.stringify({ seconds, batches, lines, maxRssBytes: process.resourceUsage().maxRSS * 1024 })}`);
