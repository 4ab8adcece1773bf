/**
 * The report's "Proxy cache (issue 10)" section: issue 10's targets marked met or
 * missed, cold first pulls through the cache against the peer, upstream requests per
 * object under 10 concurrent first pulls, and the cost of a warm pull of a cached tag.
 */
import { CACHED_PREFIX, MANIFEST_PULL, PUSHED_PREFIX, type AccountingRow } from "./accounting.js";
import type { ColdPullRow, FanoutResult } from "./proxy-pulls.js";
import type { PullRow } from "./pulls.js";
import { accountingTable, fixed, ratio, table } from "./report-table.js";

export interface ProxyResults {
  /** The peer straight first, then each Pier target through the cache. */
  cold: ColdPullRow[];
  runs: number;
  bigImageBytes: number;
  fanout: FanoutResult[];
  /** Bytes per layer of the fan-out image. */
  fanoutLayerSizes: number[];
  /** Why the proxy-cache measurements stopped early, when they did. */
  error: string | null;
}

interface Target {
  target: string;
  measured: string;
  met: boolean;
}

const isWarm = (row: AccountingRow) => row.scenario !== "cold";

function coldTargets(proxy: ProxyResults): Target[] {
  const peer = proxy.cold[0];
  return proxy.cold
    .filter((row) => row.cold)
    .map((row) => {
      const target = `First pull through the cache within 1.1× of pulling straight from the upstream (${row.name})`;
      if (!peer || peer.timesMs.length === 0 || row.timesMs.length === 0)
        return { target, measured: `not measured: ${[...(peer?.errors ?? []), ...row.errors].join("; ") || "no runs"}`, met: false };
      const r = row.medianMs / peer.medianMs;
      const failed = row.errors.length > 0 ? `; ${row.errors.length} failed run(s): ${row.errors.join("; ")}` : "";
      const measured = `median ${fixed(row.medianMs / 1000, 2)} vs ${fixed(peer.medianMs / 1000, 2)} s (${ratio(r)})${failed}`;
      return { target, measured, met: r <= 1.1 && row.errors.length === 0 };
    });
}

function accountingTargets(rows: readonly AccountingRow[]): Target[] {
  const cached = rows.filter((row) => row.pull.startsWith(CACHED_PREFIX));
  const warmManifest = cached.filter((row) => row.pull === `${CACHED_PREFIX}${MANIFEST_PULL}` && isWarm(row));
  const manifestTarget = "Warm pull of a fresh cached tag (manifest by tag): 0 SQL statements and ≤ 1 Redis round trip";
  const wholeTarget = "Warm whole-image pull of a cached tag costs no more than the same pull of a pushed image of the same shape";
  if (warmManifest.length === 0) return [{ target: manifestTarget, measured: "not measured", met: false }];
  const failures = (list: readonly AccountingRow[]) => list.flatMap((row) => row.failures);
  const manifest: Target = {
    target: manifestTarget,
    measured: warmManifest.map((a) => `${a.scenario}: ${a.sql} SQL, ${a.redis} Redis`).join("; "),
    met: failures(warmManifest).length === 0 && warmManifest.every((a) => a.sql === 0 && a.redis <= 1),
  };
  const pairs = cached
    .filter((row) => isWarm(row) && row.pull !== `${CACHED_PREFIX}${MANIFEST_PULL}`)
    .map((row) => {
      const pull = `${PUSHED_PREFIX}${row.pull.slice(CACHED_PREFIX.length)}`;
      return { row, local: rows.find((l) => l.pull === pull && l.scenario === row.scenario) };
    });
  const whole: Target = {
    target: wholeTarget,
    measured:
      pairs
        .map(
          ({ row, local }) =>
            `${row.scenario}: ${row.sql} SQL, ${row.redis} Redis (pushed: ${local?.sql ?? "?"} SQL, ${local?.redis ?? "?"} Redis)`,
        )
        .join("; ") || "not measured",
    met:
      pairs.length > 0 &&
      failures(pairs.map((p) => p.row)).length === 0 &&
      pairs.every(({ row, local }) => local !== undefined && row.sql <= local.sql && row.redis <= local.redis),
  };
  return [manifest, whole];
}

function fanoutTargets(fanout: readonly FanoutResult[]): Target[] {
  return fanout.map((result) => ({
    target: `Upstream requests per first pull with ${result.clients} concurrent clients: 1 per object (${result.server})`,
    measured:
      result.objects.map((o) => `${o.object}: ${o.total}`).join(", ") +
      (result.failures.length > 0 ? `; ${result.failures.length} client(s) failed: ${result.failures[0]}` : ""),
    met: result.failures.length === 0 && result.objects.every((o) => o.total === 1),
  }));
}

function coldTable(proxy: ProxyResults): string {
  const peer = proxy.cold[0];
  return table(
    ["server", "path", "runs (s)", "median s", "MB/s", "time / peer", "failed runs"],
    proxy.cold.map((row) => [
      row.name,
      row.note,
      row.timesMs.map((ms) => fixed(ms / 1000, 2)).join(", ") || "—",
      fixed(row.medianMs / 1000, 2),
      fixed(proxy.bigImageBytes / 1e6 / (row.medianMs / 1000), 0),
      row === peer || !peer ? "" : ratio(row.medianMs / peer.medianMs),
      row.errors.join("; ") || "none",
    ]),
  );
}

function fanoutTable(fanout: readonly FanoutResult[]): string {
  const rows = fanout.flatMap((result) => [
    ...result.objects.map((o) => [
      result.server,
      o.object,
      Object.entries(o.byMethod)
        .map(([method, n]) => `${method} ${n}`)
        .join(", ") || "none",
      String(o.total),
    ]),
    [
      result.server,
      "other (ping, token)",
      Object.entries(result.other)
        .map(([key, n]) => `${key}: ${n}`)
        .join(", ") || "none",
      String(Object.values(result.other).reduce((a, b) => a + b, 0)),
    ],
  ]);
  return table(["server", "object", "requests at the upstream", "total"], rows);
}

function fanoutSummary(fanout: readonly FanoutResult[]): string {
  return fanout
    .map(
      (r) =>
        `- ${r.server}: ${r.clients} clients done in ${fixed(r.wallMs / 1000, 2)} s; ` +
        (r.failures.length === 0 ? "every client succeeded." : `${r.failures.length} failed: ${r.failures.join("; ")}.`),
    )
    .join("\n");
}

/** The whole section, Markdown. */
export function renderProxySection(proxy: ProxyResults, accounting: readonly AccountingRow[], localPulls: readonly PullRow[]): string {
  const targets = [...coldTargets(proxy), ...accountingTargets(accounting), ...fanoutTargets(proxy.fanout)];
  const cachedRows = accounting.filter((row) => row.pull.startsWith(CACHED_PREFIX) || row.pull.startsWith(PUSHED_PREFIX));
  const layers = proxy.fanoutLayerSizes.map((b) => fixed(b / 1e6, 0)).join(" + ");
  return [
    "## Proxy cache (issue 10)",
    "",
    "A second Pier pair on the same database with `PIER_PROXY_CACHE=true`: the Node origin, and the edge (HTTPS) in front of it, which hands",
    "misses to the origin and streams its answer back. Cache organizations (`proxycacheconfig`, `insecure`, `expiration_s` 86400, anonymous",
    "pulls on) have the peer as their upstream. skopeo pulls anonymously (`copy docker://… dir:…`).",
    ...(proxy.error ? ["", `**The proxy-cache measurements stopped early:** ${proxy.error}`] : []),
    "",
    table(
      ["target", "measured", "result"],
      targets.map((t) => [t.target, t.measured, t.met ? "met" : "**missed**"]),
    ),
    "",
    `### First pull of the ~${fixed(proxy.bigImageBytes / 1e6, 0)} MB image through the cache (cold), and a second one (median of ${proxy.runs} run${proxy.runs === 1 ? "" : "s"})`,
    "",
    "Every Pier run pulls its own freshly written image (4 random 50 MB layers), pushed to the peer just before: Pier dedupes blobs by digest",
    "across organizations, so a cold pull needs content it has never stored. The peer row pulls the same image as the Node origin row of its",
    "round, straight from the peer, just before it; both read the peer's files from a warm page cache. A cold pull through Pier streams each",
    "blob from the upstream to the client while writing it to S3. The second-pull rows pull the same image again right after its cold pull.",
    "",
    coldTable(proxy),
    "",
    `For comparison, the pushed ~200 MB image pulled from the same kinds of runtime without the proxy cache (section above, medians): ${
      localPulls
        .filter((p) => p.target.kind === "pier")
        .map((p) => `${p.target.name} ${fixed(p.medianMs / 1000, 2)} s`)
        .join(", ") || "not measured"
    }.`,
    "",
    `### Upstream requests with ${proxy.fanout[0]?.clients ?? 10} concurrent first pulls`,
    "",
    `Per server, one fresh image (config and ${proxy.fanoutLayerSizes.length} layers of ${layers} MB) pushed to the peer, then concurrent skopeo pulls`,
    "through a cache organization whose upstream is a counting forwarder in front of the peer (bench/counting-proxy.ts), counting by method and path.",
    "",
    fanoutTable(proxy.fanout),
    "",
    fanoutSummary(proxy.fanout),
    "",
    "### A warm pull of a cached tag (Node origin, in process)",
    "",
    "The accounting above repeated on a registry with `PIER_PROXY_CACHE=true`, for the tag the first cold pull through the Node origin filled",
    "(private, as Quay's proxy creates cached repositories; pulled with an anonymous token fetched first and not counted; the token's",
    "verification key is loaded from `servicekey` once per process, in the cold run). The tag is within its `expiration_s` window: fresh.",
    "For comparison, the same pulls of the pushed ~200 MB image (public, anonymous, same layer count) on the same registry.",
    "",
    cachedRows.length > 0 ? accountingTable(cachedRows) : "Not measured (no image was cached).",
    "",
  ].join("\n");
}
