/** The mirroring and geo-replication section of docs/benchmarks.md (bench/mirror-bench.ts). */
import type { JobPass, MirrorResults } from "./mirror-bench.js";
import { fixed, table } from "./report-table.js";

const MiB = 1024 * 1024;

export const MIRROR_HEADING = "## Repository mirroring and geo-replication (issue 13)";

const mib = (bytes: number) => fixed(bytes / MiB, 1);
const rss = (pass: JobPass, idle: JobPass) => `${mib(pass.maxRssBytes)} (${mib(idle.maxRssBytes)})`;

export function renderMirrorSection(results: MirrorResults, commit: string): string {
  const sync = results.sync;
  const copy = results.replication;
  return [
    MIRROR_HEADING,
    "",
    `Measured on ${commit}. A docker-registry upstream holds ${results.tags} tags sharing three base layers (8, 4 and 2 MiB), each with a`,
    "1 MiB layer and a config of its own; a counting proxy in front of it counts requests and response bytes. Pier (two storage",
    "locations on two verifying S3 servers, replication on) mirrors the repository with glob `*`, then the replication job copies",
    "every blob to the second location; each pass runs in its own process (bench/mirror-run.ts), so its peak RSS is its own.",
    "",
    table(
      [
        "pass",
        "unique blobs",
        "unique blob MiB",
        "blob GETs",
        "blob MiB fetched",
        "fetched / unique",
        "other requests (KiB)",
        "s",
        "MiB/s",
        "peak RSS MiB (idle)",
      ],
      [
        [
          "mirror sync",
          String(results.uniqueBlobs),
          mib(results.uniqueBlobBytes),
          String(results.blobGets),
          mib(results.blobBytesFetched),
          fixed(results.blobBytesFetched / results.uniqueBlobBytes, 3),
          `${results.otherRequests} (${fixed(results.otherBytes / 1024, 0)})`,
          fixed(sync.seconds, 1),
          fixed(results.blobBytesFetched / MiB / sync.seconds, 1),
          rss(sync, results.idle),
        ],
        [
          "replication us → eu",
          String(results.replicatedBlobs),
          mib(results.replicatedBytes),
          "—",
          "—",
          "—",
          "—",
          fixed(copy.seconds, 1),
          fixed(results.replicatedBytes / MiB / copy.seconds, 1),
          rss(copy, results.idle),
        ],
      ],
    ),
    "",
    "Fetched / unique is 1.000 when every blob crossed once and no shared layer was fetched again. Other requests are the tag list,",
    "the manifests, the HEADs and the `/v2/` probe. Idle is the same process opening the registry and running no batch: the",
    `pass's peak RSS above it (${mib(results.sync.maxRssBytes - results.idle.maxRssBytes)} and ${mib(copy.maxRssBytes - results.idle.maxRssBytes)} MiB) against the ${mib(results.uniqueBlobBytes)} MiB moved`,
    "and the largest blob (8 MiB) is what says whether memory is bounded.",
  ].join("\n");
}

/** `markdown` with the mirror section replaced (or appended): a standalone run updates only its own rows. */
export function withMirrorSection(markdown: string, section: string): string {
  const start = markdown.indexOf(MIRROR_HEADING);
  if (start === -1) return `${markdown.trimEnd()}\n\n${section}\n`;
  const next = markdown.indexOf("\n## ", start + MIRROR_HEADING.length);
  return `${markdown.slice(0, start)}${section}\n${next === -1 ? "" : markdown.slice(next)}`;
}
