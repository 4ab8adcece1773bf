/**
 * Contract fixtures (docs/contract-runner.md): one request each, with what Quay's documented
 * behaviour says comes back — a status, header patterns and the JSON body's shape — to be
 * replayed against a legacy Quay and a Pier. Files are YAML lists under fixtures/.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { parse } from "yaml";

export interface Fixture {
  /** The route it covers (src/http/routes.ts names), for the coverage check. */
  route: string;
  name: string;
  request: { method: string; path: string; auth: "anonymous" | "user"; headers: Record<string, string>; body: unknown };
  expect: { status: number; headers: Record<string, string>; json: unknown };
  /** A Pier extension: legacy Quay has no such endpoint, so the comparison skips it. */
  pierOnly: boolean;
  /**
   * Values the answer gives later fixtures, each side its own (ids differ per install):
   * placeholder name → dotted path into the JSON body (`uuid`, `policies.0.uuid`).
   */
  capture: Record<string, string>;
  /** The file it came from, for reports. */
  file: string;
}

export class FixtureError extends Error {
  override name = "FixtureError";
}

const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]);

function record(value: unknown, where: string): Record<string, string> {
  if (value === undefined) return {};
  if (typeof value !== "object" || value === null || Array.isArray(value) || Object.values(value).some((v) => typeof v !== "string")) {
    throw new FixtureError(`${where} must map names to strings`);
  }
  return Object.fromEntries(Object.entries(value as Record<string, string>).map(([k, v]) => [k.toLowerCase(), v]));
}

function fixtureFrom(value: unknown, where: string, file: string): Fixture {
  if (typeof value !== "object" || value === null) throw new FixtureError(`${where}: a fixture must be a mapping`);
  const raw = value as Record<string, unknown>;
  const request = raw.request as Record<string, unknown> | undefined;
  const expect = raw.expect as Record<string, unknown> | undefined;
  if (typeof raw.route !== "string" || raw.route === "") throw new FixtureError(`${where}: route is missing`);
  if (typeof raw.name !== "string" || raw.name === "") throw new FixtureError(`${where}: name is missing`);
  if (typeof request !== "object" || request === null) throw new FixtureError(`${where} (${raw.name}): request is missing`);
  if (typeof request.method !== "string" || !METHODS.has(request.method))
    throw new FixtureError(`${where} (${raw.name}): request.method is not an HTTP method`);
  if (typeof request.path !== "string" || !request.path.startsWith("/"))
    throw new FixtureError(`${where} (${raw.name}): request.path must start with /`);
  const auth = request.auth ?? "anonymous";
  if (auth !== "anonymous" && auth !== "user") throw new FixtureError(`${where} (${raw.name}): request.auth must be anonymous or user`);
  if (typeof expect !== "object" || expect === null || typeof expect.status !== "number") {
    throw new FixtureError(`${where} (${raw.name}): expect.status is missing`);
  }
  for (const pattern of Object.values(record(expect.headers, `${where} (${raw.name}): expect.headers`))) {
    try {
      new RegExp(pattern);
    } catch {
      throw new FixtureError(`${where} (${raw.name}): expect.headers has a bad pattern ${JSON.stringify(pattern)}`);
    }
  }
  const capture = record(raw.capture, `${where} (${raw.name}): capture`);
  for (const [name, path] of Object.entries(capture)) {
    if (!/^[a-z_]+$/.test(name) || !/^[\w-]+(\.[\w-]+)*$/.test(path)) {
      throw new FixtureError(`${where} (${raw.name}): capture ${name}: ${JSON.stringify(path)} is not a placeholder name and a dotted path`);
    }
  }
  return {
    route: raw.route,
    name: raw.name,
    request: {
      method: request.method,
      path: request.path,
      auth,
      headers: record(request.headers, `${where} (${raw.name}): request.headers`),
      body: request.body,
    },
    expect: { status: expect.status, headers: record(expect.headers, `${where} (${raw.name}): expect.headers`), json: expect.json },
    pierOnly: raw.pierOnly === true,
    capture,
    file,
  };
}

/** Every fixture of every `*.yaml` in `dir`, validated; a bad one throws naming its file and place. */
export async function loadFixtures(dir: string): Promise<Fixture[]> {
  const files = (await readdir(dir)).filter((name) => name.endsWith(".yaml")).sort();
  const fixtures: Fixture[] = [];
  for (const file of files) {
    let parsed: unknown;
    try {
      parsed = parse(await readFile(join(dir, file), "utf8"));
    } catch (error) {
      throw new FixtureError(`${file}: not YAML (${(error as Error).message.split("\n")[0]})`);
    }
    if (!Array.isArray(parsed)) throw new FixtureError(`${file}: must be a list of fixtures`);
    parsed.forEach((value, index) => fixtures.push(fixtureFrom(value, `${file}[${index}]`, file)));
  }
  return fixtures;
}

/** `{name}` placeholders filled from `vars`; an unknown one is an error (a typo would test the wrong path). */
export function fill(text: string, vars: Readonly<Record<string, string>>): string {
  return text.replace(/\{([a-z_]+)\}/g, (_, name: string) => {
    const value = vars[name];
    if (value === undefined) throw new FixtureError(`no value for {${name}} (pass --var ${name}=…)`);
    return value;
  });
}
