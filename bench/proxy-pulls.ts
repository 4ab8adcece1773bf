/**
 * Pulls through the proxy cache with skopeo: cold first pulls of the ~200 MB image
 * (each of content Pier has never stored: Pier dedupes blobs by digest across
 * organizations, so every run gets its own freshly written image on the peer) against
 * the same pull straight from the peer; and 10 concurrent first pulls of one fresh
 * image, with the requests that reach the upstream counted per object.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { createOciLayout, type LayoutImage } from "../test/support/oci-layout.js";
import type { CountingProxy } from "./counting-proxy.js";
import { BIG_LAYER_BYTES, BIG_LAYERS } from "./images.js";
import { median } from "./pulls.js";
import type { Skopeo } from "./skopeo.js";

export interface ColdPullRow {
  name: string;
  /** What is measured (transport, where the fill happens). */
  note: string;
  /** A first pull of content never cached (false: the second pull of it, from the cache; or the peer). */
  cold: boolean;
  timesMs: number[];
  medianMs: number;
  /** One line per failed run. */
  errors: string[];
}

/** Where skopeo pulls from: `host` and the repository prefix in front of the upstream repository name. */
export interface ProxyTarget {
  name: string;
  note: string;
  host: string;
  /** `<cache org>/` through Pier, empty for the peer itself. */
  prefix: string;
}

/** One line for the report: a failed skopeo's own message (its first stderr line), else the error's first line. */
function errorLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const failed = /failed \(([^)]*)\):\n([\s\S]*)/.exec(text);
  if (!failed) return text.split("\n")[0]!.replaceAll("|", "/");
  const detail = failed[2]!.split("\n").find((line) => line.trim() !== "") ?? "no output";
  // A table cell: no pipes.
  return `skopeo ${failed[1]}: ${detail.replace(/^time="[^"]*" /, "")}`.replaceAll("|", "/").slice(0, 500);
}

/** Writes a fresh image (random layers of `layerSizes`) in a scratch layout, pushes it to the peer as `<repository>:v1`, removes the layout. */
export async function pushFreshImage(
  skopeo: Skopeo,
  peerHost: string,
  repository: string,
  layerSizes: readonly number[],
): Promise<LayoutImage> {
  const dir = await mkdtemp(join(skopeo.dir, "fresh-"));
  try {
    const layout = await createOciLayout(dir);
    const image = await layout.addImage({ layerSizes: [...layerSizes] });
    await layout.tag("v1", image.manifest);
    const digest = await skopeo.push(`oci:${dir}:v1`, `docker://${peerHost}/${repository}:v1`);
    if (digest !== image.manifest.digest) throw new Error(`the peer stored ${repository} as ${digest}, not ${image.manifest.digest}`);
    return image;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * `runs` rounds; in each, every Pier target pulls its own fresh ~200 MB image (a cold
 * first pull through the cache, then a second one from the cache) and the peer pulls
 * the first of them straight. Resolves with the rows (peer first, then the cold pulls,
 * then the second pulls) and the first cached image (for the accounting).
 */
export async function timeColdPulls(
  skopeo: Skopeo,
  peer: ProxyTarget,
  pier: readonly ProxyTarget[],
  namespace: string,
  runs: number,
  log: (line: string) => void,
): Promise<{ rows: ColdPullRow[]; cached: { repository: string; image: LayoutImage } | null }> {
  const sizes = Array.from({ length: BIG_LAYERS }, () => BIG_LAYER_BYTES);
  const row = (name: string, note: string, cold: boolean): ColdPullRow => ({
    name,
    note,
    cold,
    timesMs: [],
    medianMs: Number.NaN,
    errors: [],
  });
  const peerRow = row(peer.name, peer.note, false);
  const coldRows = pier.map((t) => row(t.name, t.note, true));
  const warmRows = pier.map((t) => row(`${t.name}, second pull`, "from the cache: content stored, tag fresh", false));
  let cached: { repository: string; image: LayoutImage } | null = null;
  const time = async (into: ColdPullRow, target: ProxyTarget, repository: string, round: number): Promise<boolean> => {
    try {
      const ms = await skopeo.timedPull(`docker://${target.host}/${target.prefix}${repository}:v1`);
      into.timesMs.push(ms);
      log(`proxy pull ${round}/${runs} · ${into.name}: ${(ms / 1000).toFixed(2)} s`);
      return true;
    } catch (error) {
      into.errors.push(`run ${round}: ${errorLine(error)}`);
      log(`proxy pull ${round}/${runs} · ${into.name} failed: ${error instanceof Error ? error.message : String(error)}`);
      return false;
    }
  };
  for (let round = 1; round <= runs; round++) {
    for (const [index, target] of pier.entries()) {
      const repository = `${namespace}/cold-${index}-${round}`;
      const image = await pushFreshImage(skopeo, peer.host, repository, sizes);
      // The same bytes straight from the peer, just before the first Pier target pulls them (both read a warm page cache).
      if (index === 0) await time(peerRow, peer, repository, round);
      if (!(await time(coldRows[index]!, target, repository, round))) continue;
      if (cached === null && index === 0) cached = { repository: `${target.prefix}${repository}`, image };
      await time(warmRows[index]!, target, repository, round);
    }
  }
  const rows = [peerRow, ...coldRows, ...warmRows];
  for (const r of rows) if (r.timesMs.length > 0) r.medianMs = median(r.timesMs);
  return { rows, cached };
}

/** Requests that reached the upstream for one object of the image, by method. */
export interface ObjectRequests {
  object: string;
  byMethod: Record<string, number>;
  total: number;
}

export interface FanoutResult {
  server: string;
  clients: number;
  /** Wall time until the last client finished. */
  wallMs: number;
  /** Client failures, one line each. */
  failures: string[];
  /** The manifest, the config and every layer, each listed even when nothing reached the upstream for it. */
  objects: ObjectRequests[];
  /** Everything else that reached the upstream (`/v2/` pings, token requests), `METHOD path` → count. */
  other: Record<string, number>;
}

function tabulate(counts: Map<string, number>, repository: string, image: LayoutImage): Pick<FanoutResult, "objects" | "other"> {
  const names = new Map<string, string>([
    [`/v2/${repository}/manifests/v1`, "manifest (by tag v1)"],
    [`/v2/${repository}/manifests/${image.manifest.digest}`, "manifest (by digest)"],
    [`/v2/${repository}/blobs/${image.config.digest}`, "config blob"],
    ...image.layers.map((layer, i): [string, string] => [`/v2/${repository}/blobs/${layer.digest}`, `layer ${i + 1} (${layer.size} B)`]),
  ]);
  const objects = new Map<string, ObjectRequests>();
  for (const object of names.values()) if (object !== "manifest (by digest)") objects.set(object, { object, byMethod: {}, total: 0 });
  const other: Record<string, number> = {};
  for (const [key, count] of counts) {
    const [method, path] = key.split(" ") as [string, string];
    const object = names.get(path);
    if (object === undefined) {
      other[key] = count;
      continue;
    }
    const entry = objects.get(object) ?? { object, byMethod: {}, total: 0 };
    entry.byMethod[method] = (entry.byMethod[method] ?? 0) + count;
    entry.total += count;
    objects.set(object, entry);
  }
  return { objects: [...objects.values()], other };
}

/**
 * For each Pier target: a fresh image on the peer, then `clients` concurrent skopeo
 * pulls of it through the cache organization whose upstream is `counting` (the counting
 * forwarder in front of the peer); what reached the upstream, per object.
 */
export async function countConcurrentFirstPulls(
  skopeo: Skopeo,
  peerHost: string,
  counting: CountingProxy,
  targets: readonly ProxyTarget[],
  namespace: string,
  clients: number,
  layerSizes: readonly number[],
  log: (line: string) => void,
): Promise<FanoutResult[]> {
  const results: FanoutResult[] = [];
  for (const [index, target] of targets.entries()) {
    const repository = `${namespace}/fanout-${index}`;
    const image = await pushFreshImage(skopeo, peerHost, repository, layerSizes);
    counting.reset();
    const started = performance.now();
    const settled = await Promise.allSettled(
      Array.from({ length: clients }, () => skopeo.timedPull(`docker://${target.host}/${target.prefix}${repository}:v1`)),
    );
    const wallMs = performance.now() - started;
    const failures = settled.flatMap((s, i) => (s.status === "rejected" ? [`client ${i + 1}: ${errorLine(s.reason)}`] : []));
    const result = { server: target.name, clients, wallMs, failures, ...tabulate(counting.counts(), repository, image) };
    log(
      `${clients} concurrent first pulls · ${target.name}: ${(wallMs / 1000).toFixed(2)} s, ${failures.length} failed; upstream requests ${result.objects
        .map((o) => `${o.object}: ${o.total}`)
        .join(", ")}`,
    );
    results.push(result);
  }
  return results;
}
