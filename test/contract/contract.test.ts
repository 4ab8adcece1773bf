/**
 * The contract runner (scripts/contract.ts, docs/contract-runner.md) against real
 * registries: two Piers on their own databases agree with the fixtures and with each
 * other; Debian's docker-registry as the legacy side shows up as differences; every route
 * of src/http/routes.ts has a fixture; bad fixture files are refused by name.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { asyncLocalScope } from "../../src/adapters/scope/async-local.js";
import { ensureUser } from "../../src/core/accounts.js";
import { createApp } from "../../src/http/app.js";
import { observed } from "../../src/http/observability.js";
import { routes } from "../../src/http/routes.js";
import { FixtureError, loadFixtures, type Fixture } from "../../scripts/contract/fixtures.js";
import { runContract } from "../../scripts/contract/run.js";
import { startOriginRegistry, type OriginFixture } from "../support/origin-registry.js";
import { startUpstreamRegistry, type UpstreamRegistryProcess } from "../support/upstream-registry.js";

const FIXTURES = join(import.meta.dirname, "../../scripts/contract/fixtures");
/** The features the fixtures assume on both sides (an operator turns on what their Quay has). */
const FEATURES = { PIER_QUOTA_MANAGEMENT: "true", PIER_REPO_MIRROR: "true", PIER_PROXY_CACHE: "true", PIER_AUTO_PRUNE: "true" } as const;

/** The user the `auth: user` fixtures sign in as, on both sides ({user} in their paths). */
const USER = { name: "contractuser", password: `pw-${crypto.randomUUID()}` };

interface ServedPier {
  url: string;
  credentials: string;
  close(): Promise<void>;
}

async function servedPier(label: string): Promise<ServedPier> {
  // Robots need Quay's DATABASE_SECRET_KEY (their tokens are encrypted fields).
  const env = { ...FEATURES, PIER_DATABASE_SECRET_KEY: `contract-${crypto.randomUUID()}` };
  const origin: OriginFixture = await startOriginRegistry(label, undefined, { env });
  await ensureUser(origin.registry.sql, origin.registry.clock, {
    username: USER.name,
    email: `${USER.name}@users.test`,
    password: USER.password,
    removedTagExpirationSeconds: 1_209_600,
  });
  // Observed as the origin runs it: /metrics is one of the routes.
  const { registry, observability } = observed(origin.registry, "origin", asyncLocalScope());
  const server = serve({ fetch: createApp(registry, { observability }).fetch, hostname: "127.0.0.1", port: 0 });
  await new Promise<void>((resolve) => (server.listening ? resolve() : server.once("listening", () => resolve())));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    credentials: `${USER.name}:${USER.password}`,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await origin.close();
    },
  };
}

let fixtures: Fixture[];
let legacyPier: ServedPier;
let pier: ServedPier;
let distribution: UpstreamRegistryProcess;

beforeAll(async () => {
  fixtures = await loadFixtures(FIXTURES);
  [legacyPier, pier, distribution] = await Promise.all([servedPier("contracta"), servedPier("contractb"), startUpstreamRegistry()]);
}, 60_000);

afterAll(async () => {
  await Promise.all([legacyPier?.close(), pier?.close(), distribution?.close()]);
});

describe("contract runner", () => {
  it("has a fixture for every route Pier serves, and none for a route it does not", () => {
    const covered = new Set(fixtures.map((fixture) => fixture.route));
    expect(routes.map((route) => route.name).filter((name) => !covered.has(name))).toEqual([]);
    const known = new Set(routes.map((route) => route.name));
    expect([...covered].filter((name) => !known.has(name))).toEqual([]);
  });

  it("finds two Piers answering as the fixtures say, and alike", async () => {
    const results = await runContract(fixtures, [
      { name: "legacy", url: legacyPier.url, credentials: legacyPier.credentials },
      { name: "pier", url: pier.url, credentials: pier.credentials },
    ]);
    expect(results.filter((result) => result.problems.length > 0).map((r) => `${r.fixture.name}: ${r.problems.join("; ")}`)).toEqual([]);
    expect(results).toHaveLength(fixtures.length);
  });

  it("keeps each side's captured values for the fixtures after, and reports a capture that finds nothing", async () => {
    const policy = fixtures.filter((f) => f.file === "user.yaml" && f.request.path.includes("autoprunepolicy/{user_policy}"));
    const create = fixtures.find((f) => f.file === "user.yaml" && f.capture.user_policy !== undefined)!;
    const [read, , remove] = policy;
    expect(create.capture).toEqual({ user_policy: "uuid" });
    const results = await runContract(
      [create, read!, { ...read!, name: "capturing what is not there", capture: { other: "policies.0.uuid" } }, remove!],
      [
        { name: "legacy", url: legacyPier.url, credentials: legacyPier.credentials },
        { name: "pier", url: pier.url, credentials: pier.credentials },
      ],
    );
    // Each side read its own policy: the other side's uuid would have been a 404.
    expect(results[1]!.problems).toEqual([]);
    expect(results[3]!.problems).toEqual([]);
    expect(results[2]!.problems).toEqual([
      "legacy: capture {other}: no string or number at $.policies.0.uuid",
      "pier: capture {other}: no string or number at $.policies.0.uuid",
    ]);
  });

  it("reports where a different registry departs, fixture by fixture", async () => {
    const v2 = fixtures.filter((fixture) => fixture.file === "v2.yaml");
    const results = await runContract(v2, [
      { name: "legacy", url: distribution.url },
      { name: "pier", url: pier.url },
    ]);
    const base = results.find((result) => result.fixture.route === "base")!;
    // Distribution without auth answers the base check itself; Quay and Pier ask for a token.
    expect(base.problems).toContain("legacy: status 200, expected 401");
    expect(base.problems).toContain("differ: status legacy 200, pier 401");
    expect(base.problems.filter((problem) => problem.startsWith("pier:"))).toEqual([]);
    const health = results.find((result) => result.fixture.route === "health")!;
    expect(health.problems).toContain("legacy: status 404, expected 200");
    // Pier's own endpoints are not asked of legacy.
    expect(results.find((result) => result.fixture.route === "metrics")!.problems).toEqual([]);
  });

  it("runs as a command: exit 0 when everything matched, 1 with the report when not, 2 for bad arguments", async () => {
    const run = (args: string[]) =>
      new Promise<{ code: number | null; output: string }>((resolve) => {
        const child = spawn("npx", ["tsx", "scripts/contract.ts", ...args], { stdio: ["ignore", "pipe", "pipe"] });
        let output = "";
        child.stdout.on("data", (chunk) => (output += chunk));
        child.stderr.on("data", (chunk) => (output += chunk));
        child.once("exit", (code) => resolve({ code, output }));
      });
    const matched = await run(["--pier", pier.url, "--route", "base"]);
    expect(matched).toMatchObject({ code: 0 });
    expect(matched.output).toContain("1 of 1 fixtures matched.");
    const departed = await run(["--pier", pier.url, "--legacy", distribution.url, "--route", "base"]);
    expect(departed.code).toBe(1);
    expect(departed.output).toContain("FAIL GET /v2/");
    expect(departed.output).toContain("differ: status legacy 200, pier 401");
    const bad = await run(["--pier", pier.url, "--var", "novalue"]);
    expect(bad.code).toBe(2);
    expect(bad.output).toContain("--var novalue: expected name=value");
  }, 60_000);

  it("refuses fixture files it cannot use, naming the file and the fixture", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pier-contract-"));
    try {
      const cases: [string, string][] = [
        ["route: [", "bad.yaml: not YAML"],
        ["route: base", "bad.yaml: must be a list of fixtures"],
        ["- route: base\n  name: x\n  request: { method: GET, path: /v2/ }\n  expect: {}", "bad.yaml[0] (x): expect.status is missing"],
        [
          "- route: base\n  name: x\n  request: { method: FETCH, path: /v2/ }\n  expect: { status: 200 }",
          "request.method is not an HTTP method",
        ],
        [
          "- route: base\n  name: x\n  request: { method: GET, path: /v2/ }\n  expect: { status: 200, headers: { a: '(' } }",
          "expect.headers has a bad pattern",
        ],
        [
          "- route: base\n  name: x\n  request: { method: GET, path: /v2/ }\n  expect: { status: 200 }\n  capture: { my-id: 'a..b' }",
          'bad.yaml[0] (x): capture my-id: "a..b" is not a placeholder name and a dotted path',
        ],
      ];
      for (const [text, message] of cases) {
        await writeFile(join(dir, "bad.yaml"), text);
        await expect(loadFixtures(dir)).rejects.toThrow(FixtureError);
        await expect(loadFixtures(dir)).rejects.toThrow(message);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
