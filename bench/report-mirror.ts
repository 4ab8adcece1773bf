/** The mirroring and geo-replication section of docs/benchmarks.md (bench/mirror-bench.ts). */
import type { JobPass, MirrorResults } from "./mirror-bench.js";
import { fixed, table } from "./report-table.js";

const MiB = 1024 * 1024;

export const MIRROR_HEADING = "## Repository mirroring and geo-replication (issue 13)";

const mib = (bytes: number) => fixed(bytes / MiB, 1);

function rows(results: MirrorResults): string[][] {
  const { sync, replication: copy, idle } = results;
  const rss = (pass: JobPass) => `${mib(pass.maxRssBytes)} (+${mib(pass.maxRssBytes - idle.maxRssBytes)})`;
  const own = `${mib(results.ownLayerBytes)} MiB own layers`;
  return [
    [
      `mirror sync, ${own}`,
      String(results.uniqueBlobs),
      mib(results.uniqueBlobBytes),
      String(results.blobGets),
      mib(results.blobBytesFetched),
      fixed(results.blobBytesFetched / results.uniqueBlobBytes, 3),
      `${results.otherRequests} (${fixed(results.otherBytes / 1024, 0)})`,
      fixed(sync.seconds, 1),
      fixed(results.blobBytesFetched / MiB / sync.seconds, 1),
      rss(sync),
    ],
    [
      `replication us → eu, ${own}`,
      String(results.replicatedBlobs),
      mib(results.replicatedBytes),
      "—",
      "—",
      "—",
      "—",
      fixed(copy.seconds, 1),
      fixed(results.replicatedBytes / MiB / copy.seconds, 1),
      rss(copy),
    ],
  ];
}

export function renderMirrorSection(results: readonly MirrorResults[], commit: string): string {
  const tags = results[0]?.tags ?? 0;
  return [
    MIRROR_HEADING,
    "",
    `Measured on ${commit}. A docker-registry upstream holds ${tags} tags sharing three base layers (8, 4 and 2 MiB), each with a`,
    "layer and a config of its own; a counting proxy in front of it counts requests and response bytes. Pier (two storage",
    "locations on two verifying S3 servers, replication on) mirrors the repository with glob `*`, then the replication job copies",
    "every blob to the second location; each pass runs in its own process (bench/mirror-run.ts), so its peak RSS is its own.",
    "The scenario runs twice, with own layers of two sizes, on fresh servers.",
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
        "peak RSS MiB (+ above idle)",
      ],
      results.flatMap(rows),
    ),
    "",
    "Fetched / unique is 1.000 when every blob crossed once and no shared layer was fetched again. Other requests are the tag list,",
    "the manifests, the HEADs and the `/v2/` probe. Idle is the same process opening the registry and running no batch; memory is",
    "bounded when the peak above idle does not grow with the MiB moved (largest blob: 8 MiB).",
  ].join("\n");
}

/** `markdown` with the mirror section replaced (or appended): a standalone run updates only its own rows. */
export function withMirrorSection(markdown: string, section: string): string {
  const body = section.trimEnd();
  const start = markdown.indexOf(MIRROR_HEADING);
  if (start === -1) return `${markdown.trimEnd()}\n\n${body}\n`;
  const next = markdown.indexOf("\n## ", start + MIRROR_HEADING.length);
  return `${markdown.slice(0, start)}${body}\n${next === -1 ? "" : markdown.slice(next)}`;
}
