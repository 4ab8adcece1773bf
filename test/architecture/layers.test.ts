/**
 * The dependency rule: the core (src/core) and the schema contract (src/db) import no
 * runtime, framework or driver module — only each other and pure libraries that run
 * unchanged on Workers and Node. Adapters are imported by composition roots only.
 */
import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const PURE_PACKAGES = new Set(["jose", "bcryptjs"]);

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith(".ts")).map((e) => join(e.parentPath, e.name));
}

async function importsOf(file: string): Promise<string[]> {
  const text = await readFile(file, "utf8");
  return [...text.matchAll(/^\s*(?:import|export)[^;]*?from\s+"([^"]+)"/gm)].map((m) => m[1]!);
}

describe("layers", () => {
  it("keeps src/core and src/db free of runtime and driver imports", async () => {
    const offenders: string[] = [];
    for (const file of [...(await sourceFiles("src/core")), ...(await sourceFiles("src/db"))]) {
      for (const specifier of await importsOf(file)) {
        if (specifier.startsWith(".")) {
          const target = relative(".", join(file, "..", specifier));
          if (!target.startsWith("src/core/") && !target.startsWith("src/db/")) offenders.push(`${file} → ${specifier}`);
        } else if (!PURE_PACKAGES.has(specifier) && !(file.endsWith(".test.ts") && specifier === "vitest")) {
          offenders.push(`${file} → ${specifier}`);
        }
      }
    }
    expect(offenders).toEqual([]);
  });

  it("lets only composition roots (workers/) and tests import adapters", async () => {
    const offenders: string[] = [];
    for (const file of [...(await sourceFiles("src/core")), ...(await sourceFiles("src/http")), ...(await sourceFiles("src/db"))]) {
      for (const specifier of await importsOf(file)) if (specifier.includes("/adapters/")) offenders.push(`${file} → ${specifier}`);
    }
    expect(offenders).toEqual([]);
  });
});
