/**
 * The contract runner: replays fixtures against one or two registries and reports where an
 * answer departs from the fixture's expectation, or where legacy Quay and Pier answer
 * differently. `npm run contract` (scripts/contract.ts) and the tests use it.
 */
import { fill, type Fixture } from "./fixtures.js";
import { answerDifferences, shapeDifferences } from "./shape.js";

export interface ContractTarget {
  name: "legacy" | "pier";
  /** Base URL, e.g. https://quay.example.com. */
  url: string;
  /** `user:password` for fixtures with `auth: user`. */
  credentials?: string;
}

export interface FixtureResult {
  fixture: Fixture;
  /** Empty when everything matched. */
  problems: string[];
}

/** Names a fixture's placeholders default to: nothing by these names should exist. */
export const DEFAULT_VARS: Readonly<Record<string, string>> = {
  namespace: "contractns",
  org: "contractorg",
  repository: "contractns/app",
  tag: "latest",
  digest: `sha256:${"0".repeat(64)}`,
  uuid: "00000000-0000-0000-0000-000000000000",
  robot: "contractbot",
  team: "contractteam",
  user: "contractuser",
  id: "1",
};

interface Answer {
  status: number;
  headers: Headers;
  json: unknown;
}

async function send(fixture: Fixture, target: ContractTarget, vars: Readonly<Record<string, string>>): Promise<Answer> {
  const headers = new Headers(fixture.request.headers);
  if (fixture.request.auth === "user") {
    if (target.credentials === undefined)
      throw new Error(`${target.name}: fixture needs credentials (--${target.name}-user user:password)`);
    headers.set("authorization", `Basic ${btoa(target.credentials)}`);
  }
  let body: string | undefined;
  if (fixture.request.body !== undefined) {
    body = fill(typeof fixture.request.body === "string" ? fixture.request.body : JSON.stringify(fixture.request.body), vars);
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
  }
  const response = await fetch(`${target.url.replace(/\/+$/, "")}${fill(fixture.request.path, vars)}`, {
    method: fixture.request.method,
    headers,
    body,
    redirect: "manual",
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = text === "" ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, json };
}

function expectationProblems(fixture: Fixture, answer: Answer): string[] {
  const problems: string[] = [];
  if (answer.status !== fixture.expect.status) problems.push(`status ${answer.status}, expected ${fixture.expect.status}`);
  for (const [name, pattern] of Object.entries(fixture.expect.headers)) {
    const value = answer.headers.get(name);
    if (value === null) problems.push(`header ${name}: missing`);
    else if (!new RegExp(pattern).test(value)) problems.push(`header ${name}: ${JSON.stringify(value)} does not match /${pattern}/`);
  }
  if (fixture.expect.json !== undefined) {
    if (answer.json === undefined) problems.push("body: not JSON");
    else problems.push(...shapeDifferences(fixture.expect.json, answer.json).map((line) => `body ${line}`));
  }
  return problems;
}

/** The value at a dotted path of keys and list indices, when it is a string or a number. */
function valueAt(json: unknown, path: string): string | null {
  let value = json;
  for (const key of path.split(".")) {
    if (typeof value !== "object" || value === null) return null;
    value = (value as Record<string, unknown>)[key];
  }
  return typeof value === "string" || typeof value === "number" ? String(value) : null;
}

/** Stores what the fixture captures from `answer` in the side's values; what is missing, as problems. */
function captureValues(fixture: Fixture, answer: Answer, values: Record<string, string>): string[] {
  return Object.entries(fixture.capture).flatMap(([name, path]) => {
    const value = valueAt(answer.json, path);
    if (value === null) return [`capture {${name}}: no string or number at $.${path}`];
    values[name] = value;
    return [];
  });
}

/** Runs every fixture against every target (legacy skips Pier's extensions), in order. */
export async function runContract(
  fixtures: readonly Fixture[],
  targets: readonly ContractTarget[],
  vars: Readonly<Record<string, string>> = {},
): Promise<FixtureResult[]> {
  // Each side its own: a value one side's answer captured names that side's object.
  const values = new Map(targets.map((target) => [target.name, { ...DEFAULT_VARS, ...vars }]));
  const results: FixtureResult[] = [];
  for (const fixture of fixtures) {
    const problems: string[] = [];
    const answers = new Map<string, Answer>();
    for (const target of targets) {
      if (fixture.pierOnly && target.name === "legacy") continue;
      try {
        const answer = await send(fixture, target, values.get(target.name)!);
        answers.set(target.name, answer);
        const found = [...expectationProblems(fixture, answer), ...captureValues(fixture, answer, values.get(target.name)!)];
        problems.push(...found.map((line) => `${target.name}: ${line}`));
      } catch (error) {
        problems.push(`${target.name}: ${(error as Error).message}`);
      }
    }
    const [legacy, pier] = [answers.get("legacy"), answers.get("pier")];
    if (legacy && pier) {
      if (legacy.status !== pier.status) problems.push(`differ: status legacy ${legacy.status}, pier ${pier.status}`);
      else if (legacy.json !== undefined || pier.json !== undefined) {
        problems.push(...answerDifferences(legacy.json ?? null, pier.json ?? null).map((line) => `differ: body ${line}`));
      }
    }
    results.push({ fixture, problems });
  }
  return results;
}

/** The operator's report: one line per fixture, its problems under it, and a summary. */
export function formatReport(results: readonly FixtureResult[]): string {
  const lines = results.flatMap(({ fixture, problems }) => [
    `${problems.length === 0 ? "ok  " : "FAIL"} ${fixture.request.method} ${fixture.request.path}  (${fixture.name}; ${fixture.file})`,
    ...problems.map((problem) => `       ${problem}`),
  ]);
  const failed = results.filter((result) => result.problems.length > 0).length;
  lines.push("", `${results.length - failed} of ${results.length} fixtures matched${failed > 0 ? `, ${failed} did not` : ""}.`);
  return lines.join("\n");
}
