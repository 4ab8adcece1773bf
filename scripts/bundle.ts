/**
 * Pier's deployable bundles, built by esbuild:
 * - the edge Worker as wrangler would ship it (workers/edge.ts, one ES module under the
 *   workerd/worker/browser conditions, with wrangler.toml's runtime settings), for running
 *   it under Miniflare directly (e2e tests, benchmarks) without `wrangler dev`'s costs;
 * - the Node origin and the embedded registry (workers/origin.ts, workers/embedded.ts,
 *   packages left to node_modules), which run on plain Node: no TypeScript loader in the
 *   serving process (about 40 MB less memory);
 * - the job command (scripts/job.ts), for the origin's container image (deploy/Containerfile),
 *   which ships bundles and production dependencies only.
 *
 * `tsx scripts/bundle.ts origin|embedded|job <outfile>` writes one (npm run origin, npm start).
 */
import { readFile, rename } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { gitCommit } from "../src/runtime/build-info.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** What wrangler.toml says about the Worker's runtime. */
export interface WranglerSettings {
  compatibilityDate: string;
  compatibilityFlags: string[];
  /** `[vars]`: plain string bindings, overridden by secrets and per-run bindings. */
  vars: Record<string, string>;
}

export interface EdgeBundle extends WranglerSettings {
  /** The bundled module, ready for Miniflare's `scriptPath`. */
  scriptPath: string;
}

function quoted(list: string): string[] {
  return [...list.matchAll(/"([^"]*)"/g)].map((m) => m[1]!);
}

/** Reads the top-level runtime keys and `[vars]` of wrangler.toml (flat `key = "string"` entries only, as Pier's file has). */
export async function readWranglerSettings(path = join(ROOT, "wrangler.toml")): Promise<WranglerSettings> {
  const toml = await readFile(path, "utf8");
  const firstTable = toml.search(/^\[/m);
  const top = firstTable === -1 ? toml : toml.slice(0, firstTable);
  const compatibilityDate = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(top)?.[1];
  if (!compatibilityDate) throw new Error(`${path} has no compatibility_date`);
  const flags = /^compatibility_flags\s*=\s*\[([^\]]*)\]/m.exec(top)?.[1];
  const vars: Record<string, string> = {};
  const varsSection = /^\[vars\]\s*$([\s\S]*?)(?=^\[|(?![\s\S]))/m.exec(toml)?.[1] ?? "";
  for (const [, name, value] of varsSection.matchAll(/^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"([^"]*)"/gm)) vars[name!] = value!;
  return { compatibilityDate, compatibilityFlags: flags ? quoted(flags) : [], vars };
}

/** Bundles workers/edge.ts into `outDir/edge.js` (no network; a few hundred ms). */
export async function bundleEdgeWorker(outDir: string): Promise<EdgeBundle> {
  const settings = await readWranglerSettings();
  const scriptPath = join(outDir, "edge.js");
  await build({
    entryPoints: [join(ROOT, "workers/edge.ts")],
    outfile: scriptPath,
    absWorkingDir: ROOT,
    bundle: true,
    format: "esm",
    // wrangler's resolution: esbuild's browser platform (package `browser` fields apply,
    // e.g. bcryptjs's `crypto: false`) under the worker export conditions.
    platform: "browser",
    conditions: ["workerd", "worker", "browser"],
    target: "es2022",
    // node:* modules come from the runtime (nodejs_als), as wrangler leaves them.
    external: ["cloudflare:*", "node:*"],
    // As `wrangler deploy` builds it: the measured Worker is the shipped one.
    define: { "process.env.NODE_ENV": '"production"' },
    sourcemap: "inline",
    logLevel: "silent",
  });
  return { ...settings, scriptPath };
}

/** The Node entry points that are bundled, by name. */
const NODE_ENTRIES = { origin: "workers/origin.ts", embedded: "workers/embedded.ts", job: "scripts/job.ts" } as const;
export type NodeEntry = keyof typeof NODE_ENTRIES;

/**
 * Bundles a Node entry (NODE_ENTRIES) into `outfile`, which must sit where its bare
 * imports resolve from a node_modules (inside the project, or the image's /app). The version and the
 * checkout's commit are written in ("unknown" outside a git checkout), for pier_build_info.
 * The file is written whole and renamed into place: a process starting from it meanwhile
 * (two `npm start`s of one checkout) never reads half a bundle.
 */
export async function bundleNodeEntry(entry: NodeEntry, outfile: string): Promise<string> {
  const { version } = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as { version: string };
  const partial = `${outfile}.${process.pid}.tmp`;
  await build({
    define: { __PIER_VERSION__: JSON.stringify(version), __PIER_COMMIT__: JSON.stringify(gitCommit(ROOT) ?? "unknown") },
    entryPoints: [join(ROOT, NODE_ENTRIES[entry])],
    outfile: partial,
    absWorkingDir: ROOT,
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    packages: "external",
    logLevel: "warning",
  });
  await rename(partial, outfile);
  return outfile;
}

/** Bundles workers/origin.ts into `outfile` (see bundleNodeEntry). */
export function bundleOrigin(outfile: string): Promise<string> {
  return bundleNodeEntry("origin", outfile);
}

const target = process.argv[2];
if (process.argv[1] === fileURLToPath(import.meta.url) && target !== undefined && Object.hasOwn(NODE_ENTRIES, target)) {
  await bundleNodeEntry(target as NodeEntry, process.argv[3] ?? join(ROOT, `dist/${target}.mjs`));
}
