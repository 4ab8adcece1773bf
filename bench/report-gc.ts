/** The garbage-collection section of docs/benchmarks.md (bench/gc-bench.ts). */
import type { GcPass, GcResults } from "./gc-bench.js";
import { fixed, ratio, table } from "./report-table.js";

const MiB = 1024 * 1024;

function passRow(pass: GcPass): string[] {
  return [
    `${pass.manifests / 1000}k manifests, ${(2 * pass.manifests) / 1000}k blob rows`,
    String(pass.expiredManifests),
    fixed(pass.seconds, 1),
    String(pass.processed),
    fixed(pass.processed / pass.seconds, 0),
    `${pass.collectedManifests} / ${pass.collectedBlobs}`,
    fixed(pass.statements / Math.max(1, pass.collectedManifests), 1),
    fixed(pass.transactions / Math.max(1, pass.collectedManifests), 2),
    fixed(pass.maxRssBytes / MiB, 0),
  ];
}

export function renderGcSection(gc: GcResults): string {
  const kept = gc.duringGc.rps / gc.baseline.rps;
  return [
    "## Garbage collection (issue 11)",
    "",
    "One repository seeded in SQL: every manifest has two blobs of its own and one tag; every fourth tag ended 30 days ago (past the",
    "two-week time machine), and those blobs' objects are in S3. Then `bench/gc-run.ts` runs GC batches in its own process until one",
    "finds nothing (every origin of the run has its GC timer off). Items are the tags, manifests, labels, upload links and blobs removed.",
    "Statements count every SQL statement the pass sent (BEGIN and COMMIT not included); transactions are one per item group.",
    "",
    table(
      [
        "seeded",
        "expired manifests",
        "pass s",
        "items",
        "items/s",
        "manifests / blobs collected",
        "SQL per manifest",
        "transactions per manifest",
        "peak RSS MiB",
      ],
      [passRow(gc.small), passRow(gc.large)],
    ),
    "",
    `Warm manifest GET on the Node origin, same load as above: ${fixed(gc.baseline.rps, 0)} req/s just before the large pass, ${fixed(gc.duringGc.rps, 0)} req/s while it ran`,
    `(${ratio(kept)}; p99 ${fixed(gc.baseline.p99Ms, 1)} ms → ${fixed(gc.duringGc.p99Ms, 1)} ms). ${
      gc.loadInsideGc
        ? "The load run ended before the pass did."
        : "**The pass ended before the load run did**, so part of that run saw no GC."
    } GC runs in another process on the same cores as the origin, PostgreSQL and the load tool.`,
  ].join("\n");
}
