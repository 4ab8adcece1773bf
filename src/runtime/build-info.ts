/**
 * What build a Node runtime runs, for `pier_build_info` and the start line: the version
 * from package.json and the git commit — PIER_COMMIT when set (a deploy pipeline knows it),
 * else what scripts/bundle.ts wrote into the origin bundle at bundle time, else, running
 * unbundled from a checkout (npm start), `git rev-parse` once at start; "unknown" otherwise.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { readString, type ConfigSource } from "../core/config.js";

// Replaced by esbuild's `define` in the origin bundle; undeclared (typeof "undefined") elsewhere.
declare const __PIER_VERSION__: string | undefined;
declare const __PIER_COMMIT__: string | undefined;

export interface BuildInfo {
  version: string;
  commit: string;
}

/** The checkout's HEAD commit (12 hex digits), or null outside a git checkout. */
export function gitCommit(directory: string): string | null {
  try {
    const out = execFileSync("git", ["rev-parse", "--short=12", "HEAD"], {
      cwd: directory,
      stdio: ["ignore", "pipe", "ignore"],
      timeout: 5_000,
    });
    const commit = out.toString().trim();
    return /^[0-9a-f]{7,40}$/.test(commit) ? commit : null;
  } catch {
    return null;
  }
}

/** The directory of the package.json above this module (the project root), or null. */
function packageRoot(): string | null {
  for (let directory = dirname(fileURLToPath(import.meta.url)); ;) {
    if (existsSync(join(directory, "package.json"))) return directory;
    const parent = dirname(directory);
    if (parent === directory) return null;
    directory = parent;
  }
}

export function nodeBuildInfo(env: ConfigSource): BuildInfo {
  const bundled = typeof __PIER_COMMIT__ === "string";
  const root = bundled ? null : packageRoot();
  let version = typeof __PIER_VERSION__ === "string" ? __PIER_VERSION__ : null;
  if (version === null && root !== null) {
    try {
      version = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version?: string }).version ?? null;
    } catch {
      version = null;
    }
  }
  const commit = readString(env, "PIER_COMMIT") ?? (bundled ? __PIER_COMMIT__! : root === null ? null : gitCommit(root));
  return { version: version ?? "unknown", commit: commit ?? "unknown" };
}
