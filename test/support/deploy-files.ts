/**
 * Reading deploy/ and the code it refers to, for test/deploy: what the files ask of Pier
 * (environment variables, ports, health paths, commands) and what the code offers. The
 * code's side is derived from the sources, never a hand-kept list.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";

export const CONTAINERFILE = "deploy/Containerfile";
export const QUADLET_DIR = "deploy/quadlet";
export const KUBE_PLAY = "deploy/kube-play/pier.yaml";
export const KUBERNETES_DIR = "deploy/kubernetes";
export const SYSTEMD_UNIT = "deploy/systemd/pier-origin.service";
export const SYSTEMD_ENV = "deploy/systemd/origin.env";

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts"))
    .map((entry) => join(entry.parentPath, entry.name));
}

/**
 * Every environment variable Pier's code reads: the names passed to the config readers
 * (readString(env, "X"), readInteger(source, "X", …), requireString, …) and `env.X`
 * property reads, in src/, workers/ and scripts/.
 */
export async function environmentNamesReadByPier(): Promise<Set<string>> {
  const names = new Set<string>();
  const files = (await Promise.all(["src", "workers", "scripts"].map(sourceFiles))).flat();
  for (const file of files) {
    const text = await readFile(file, "utf8");
    for (const [, name] of text.matchAll(/\b(?:read|require)[A-Za-z]*\(\s*[\w.]+,\s*"([A-Z][A-Z0-9_]*)"/g)) names.add(name!);
    for (const [, name] of text.matchAll(/\benv\??\.([A-Z][A-Z0-9_]*)\b/g)) names.add(name!);
  }
  return names;
}

/** The origin's default port, as workers/origin.ts reads PORT. */
export async function originDefaultPort(): Promise<number> {
  const match = /readInteger\(env, "PORT", (\d+)\)/.exec(await readFile("workers/origin.ts", "utf8"));
  if (!match) throw new Error('workers/origin.ts no longer reads readInteger(env, "PORT", <default>)');
  return Number(match[1]);
}

/** The GET paths of src/http/routes.ts without parameters (`/health/instance`, `/v2/`, …). */
export async function fixedRoutePaths(): Promise<Set<string>> {
  const text = await readFile("src/http/routes.ts", "utf8");
  return new Set([...text.matchAll(/method: "GET", path: "([^":*]+)"/g)].map((m) => m[1]!));
}

export interface Instruction {
  op: string;
  args: string;
}
export interface Stage {
  base: string;
  name: string | null;
  instructions: Instruction[];
}

/** A Containerfile's stages, each with its instructions (continuation lines joined, comments dropped). */
export function parseContainerfile(text: string): Stage[] {
  const logical = text
    .split("\n")
    .filter((line) => !/^\s*#/.test(line))
    .join("\n")
    .replace(/\\\n\s*/g, " ")
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean);
  const stages: Stage[] = [];
  for (const line of logical) {
    const [, op, args] = /^(\S+)\s+(.*)$/.exec(line)!;
    if (op!.toUpperCase() === "FROM") {
      const [base, as, name] = args!.split(/\s+/);
      stages.push({ base: base!, name: as?.toUpperCase() === "AS" ? name! : null, instructions: [] });
    } else if (stages.length === 0) {
      // Only build arguments the FROM lines use may come first.
      if (op!.toUpperCase() !== "ARG") throw new Error(`${op} before FROM`);
    } else {
      stages.at(-1)!.instructions.push({ op: op!.toUpperCase(), args: args! });
    }
  }
  return stages;
}

/** `ENV A=1 B=2` → [["A","1"],["B","2"]]. */
export function envAssignments(args: string): [string, string][] {
  return [...args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S*)/g)].map((m) => [m[1]!, m[2]!.replace(/^"|"$/g, "")]);
}

/** A systemd or quadlet unit: section → [key, value] pairs in order. */
export function parseUnit(text: string): Map<string, [string, string][]> {
  const sections = new Map<string, [string, string][]>();
  let current: [string, string][] | null = null;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      current = [];
      sections.set(header[1]!, current);
      continue;
    }
    const eq = line.indexOf("=");
    if (current === null || eq < 0) throw new Error(`not a unit line: ${line}`);
    current.push([line.slice(0, eq), line.slice(eq + 1)]);
  }
  return sections;
}

/** The values of `key` in `section`; `Environment=A=1` gives "A=1". */
export function unitValues(unit: Map<string, [string, string][]>, section: string, key: string): string[] {
  return (unit.get(section) ?? []).filter(([k]) => k === key).map(([, v]) => v);
}

export async function yamlDocuments(path: string): Promise<Record<string, any>[]> {
  return parseAllDocuments(await readFile(path, "utf8")).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors[0]!.message}`);
    return doc.toJS() as Record<string, any>;
  });
}

/** The pod template of a Pod, Deployment or CronJob. */
export function podSpecOf(doc: Record<string, any>): Record<string, any> | null {
  if (doc.kind === "Pod") return doc.spec;
  if (doc.kind === "Deployment") return doc.spec.template.spec;
  if (doc.kind === "CronJob") return doc.spec.jobTemplate.spec.template.spec;
  return null;
}

/** Paths in a file that look like Pier's health checks (`/health/…`). */
export function healthPathsIn(text: string): string[] {
  return [...text.matchAll(/\/health\/[a-z]+/g)].map((m) => m[0]);
}
