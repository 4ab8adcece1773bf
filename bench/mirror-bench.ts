/**
 * The mirroring and geo-replication rows of `npm run bench` (issue 13), also run alone
 * with `npm run bench:mirror`. A docker-registry upstream holds 50 tags that share three
 * base layers, each with one layer and one config of its own; a counting proxy in front
 * of it counts every request and its response bytes. Pier (a migrated database, two
 * storage locations on two verifying S3 servers, replication on) mirrors the repository
 * with glob `*` in a process of its own (bench/mirror-run.ts): blob bytes fetched from
 * the upstream against the bytes of the unique blobs. Then the replication job copies
 * every blob to the second location, again in its own process: MiB/s and peak RSS.
 */
import { execFileSync, spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { pathToFileURL } from "node:url";
import { format, resolveConfig } from "prettier";
import { insertDueMirror } from "../test/support/mirror-seed.js";
import { originEnvOfFixture } from "../test/support/origin-process.js";
import { startOriginRegistry, type OriginFixture } from "../test/support/origin-registry.js";
import { createNamespace, createRepository, randomBytes, unique } from "../test/support/quay-seed.js";
import { ensureServices } from "../test/support/services.js";
import { pushBlob, startUpstreamRegistry } from "../test/support/upstream-registry.js";
import { startCountingProxy } from "./counting-proxy.js";
import { renderMirrorSection, withMirrorSection } from "./report-mirror.js";

const MiB = 1024 * 1024;
const TAGS = 50;
const SHARED_LAYER_BYTES = [8 * MiB, 4 * MiB, 2 * MiB];
/** Each tag's own layer, at two sizes: peak RSS that does not grow with the bytes moved is bounded. */
const OWN_LAYER_BYTES = [MiB, 3 * MiB];
const SECRET_KEY = "mirror-bench-database-secret";

export interface JobPass {
  seconds: number;
  batches: number;
  maxRssBytes: number;
}

export interface MirrorResults {
  tags: number;
  ownLayerBytes: number;
  uniqueBlobs: number;
  uniqueBlobBytes: number;
  blobGets: number;
  blobBytesFetched: number;
  /** Everything else the sync read from the upstream: tag list, manifests, HEADs, /v2/ probes. */
  otherRequests: number;
  otherBytes: number;
  sync: JobPass;
  /** Placements in the second location after the replication pass, and the bytes they hold. */
  replicatedBlobs: number;
  replicatedBytes: number;
  replication: JobPass;
  /** The same process opening the registry and running no batch: the baseline RSS. */
  idle: JobPass;
}

const encoder = new TextEncoder();

/** Pushes the 50 tags; the digest → size of every distinct blob. */
async function pushTags(url: string, repository: string, ownLayerBytes: number): Promise<Map<string, number>> {
  const unique = new Map<string, number>();
  const blob = async (bytes: Uint8Array) => {
    const digest = await pushBlob(url, repository, bytes);
    unique.set(digest, bytes.byteLength);
    return { digest, size: bytes.byteLength };
  };
  const shared = [];
  for (const size of SHARED_LAYER_BYTES) shared.push(await blob(randomBytes(size)));
  for (let i = 0; i < TAGS; i++) {
    const own = await blob(randomBytes(ownLayerBytes));
    const config = await blob(
      encoder.encode(JSON.stringify({ architecture: "amd64", os: "linux", tag: i, rootfs: { type: "layers", diff_ids: [] } })),
    );
    const mediaType = "application/vnd.oci.image.manifest.v1+json";
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType,
      config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
      layers: [...shared, own].map((layer) => ({ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", ...layer })),
    });
    const put = await fetch(`${url}/v2/${repository}/manifests/t${i}`, {
      method: "PUT",
      headers: { "content-type": mediaType },
      body: manifest,
    });
    if (put.status !== 201) throw new Error(`pushing t${i}: HTTP ${put.status}`);
  }
  return unique;
}

/** A MIRROR repository of `reference` (all tags), due now. */
async function seedMirror(origin: OriginFixture, reference: string): Promise<void> {
  const { sql, clock } = origin.registry;
  const org = unique("mirrorbench");
  const orgId = await createNamespace(origin.registry, org, { organization: true });
  const robotId = await createNamespace(origin.registry, `${org}+syncer`);
  const repoId = await createRepository(origin.registry, orgId, "app", { visibility: "private" });
  await insertDueMirror(sql, { repositoryId: repoId, robotId, reference, globs: ["*"], nowMs: clock.now(), syncIntervalSeconds: 86_400 });
}

function runPass(job: "repo-mirror" | "replication" | "idle", env: Record<string, string>): Promise<JobPass & { lines: string[] }> {
  const child = spawn(process.execPath, ["--import", "tsx", "bench/mirror-run.ts", job], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.on("exit", (code) => {
      const line = /MIRROR_RESULT (\{.*\})/.exec(out);
      if (code !== 0 || !line) reject(new Error(`bench/mirror-run.ts ${job} exited ${code}; output:\n${out}`));
      else resolve(JSON.parse(line[1]!));
    });
  });
}

const passOf = ({ seconds, batches, maxRssBytes }: JobPass): JobPass => ({ seconds, batches, maxRssBytes });

/** The scenario at each own-layer size, on fresh servers each time. */
export async function runMirrorBenchmark(log: (line: string) => void): Promise<MirrorResults[]> {
  const results: MirrorResults[] = [];
  for (const ownLayerBytes of OWN_LAYER_BYTES) results.push(await runScenario(ownLayerBytes, log));
  return results;
}

async function runScenario(ownLayerBytes: number, log: (line: string) => void): Promise<MirrorResults> {
  const upstream = await startUpstreamRegistry();
  const counting = await startCountingProxy(upstream.host);
  const replication = { PIER_STORAGE_REPLICATION: "true", PIER_STORAGE_DEFAULT_LOCATIONS: "us eu" };
  const settings = { PIER_REPO_MIRROR: "true", PIER_SSRF_ALLOWED_HOSTS: "127.0.0.1", PIER_DATABASE_SECRET_KEY: SECRET_KEY, ...replication };
  const origin = await startOriginRegistry("mirrorbench", undefined, { locations: ["us", "eu"], env: settings });
  try {
    log(`mirror bench: pushing ${TAGS} tags sharing ${SHARED_LAYER_BYTES.length} layers, ${ownLayerBytes / MiB} MiB each of their own`);
    const uniqueBlobs = await pushTags(upstream.url, "bench/app", ownLayerBytes);
    await seedMirror(origin, `${counting.host}/bench/app`);
    const env = {
      ...settings,
      ...originEnvOfFixture(origin),
      PIER_STORAGE_LOCATIONS: JSON.stringify(Object.fromEntries(origin.locations)),
    };
    counting.reset();
    log("mirror bench: repo-mirror pass (own process)");
    const sync = await runPass("repo-mirror", env);
    if (!sync.lines.some((line) => line.endsWith(": success"))) throw new Error(`the sync did not succeed: ${sync.lines.join("; ")}`);
    const isBlobGet = (key: string) => /^GET \/v2\/.+\/blobs\//.test(key);
    const counts = [...counting.counts()];
    const bytes = [...counting.bytes()];
    const sum = (entries: [string, number][], blob: boolean) =>
      entries.filter(([key]) => isBlobGet(key) === blob).reduce((n, [, v]) => n + v, 0);

    log("mirror bench: replication pass to the second location (own process)");
    const copied = await runPass("replication", env);
    const idle = await runPass("idle", env);
    const { rows } = await origin.direct.query<{ blobs: string; bytes: string }>(
      `SELECT count(*)::text AS blobs, coalesce(sum(s.image_size), 0)::text AS bytes FROM imagestorageplacement p
       JOIN imagestoragelocation l ON l.id = p.location_id JOIN imagestorage s ON s.id = p.storage_id WHERE l.name = 'eu'`,
    );
    return {
      tags: TAGS,
      ownLayerBytes,
      uniqueBlobs: uniqueBlobs.size,
      uniqueBlobBytes: [...uniqueBlobs.values()].reduce((n, v) => n + v, 0),
      blobGets: sum(counts, true),
      blobBytesFetched: sum(bytes, true),
      otherRequests: sum(counts, false),
      otherBytes: sum(bytes, false),
      sync: passOf(sync),
      replicatedBlobs: Number(rows[0]!.blobs),
      replicatedBytes: Number(rows[0]!.bytes),
      replication: passOf(copied),
      idle: passOf(idle),
    };
  } finally {
    await origin.close();
    await counting.close();
    await upstream.close();
  }
}

// Alone (`npm run bench:mirror`): measures, prints, and replaces only this section of BENCH_OUTPUT.
if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  await ensureServices();
  const git = (...args: string[]) => execFileSync("git", args, { encoding: "utf8" }).trim();
  const dirty = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)docs/benchmarks.md") !== "";
  const commit = `${git("rev-parse", "--short", "HEAD")}${dirty ? " + uncommitted changes" : ""}`;
  const results = await runMirrorBenchmark((line) => console.log(`[bench] ${line}`));
  const section = renderMirrorSection(results, commit);
  const output = process.env.BENCH_OUTPUT ?? "docs/benchmarks.md";
  const markdown = withMirrorSection(await readFile(output, "utf8"), section);
  await writeFile(output, await format(markdown, { ...(await resolveConfig(output)), parser: "markdown" }));
  console.log(`${JSON.stringify(results)}\n\n${section}`);
}
