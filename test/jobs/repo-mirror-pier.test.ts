/**
 * The repo-mirror job against a second Pier as the upstream: a private repository behind
 * bearer tokens (the /v2/auth dance with the mirror's stored credentials), set up end to
 * end through the REST API (robot, repository, mirror, sync-now). Glob filters, a retag
 * upstream moving only the new layers, a tag deleted upstream ended locally, the upstream
 * going down mid-sync (fault proxy) and the next run resuming without fetching again what
 * arrived, and /v2 pushes into the mirrored repository refused except to its robot.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureUser } from "../../src/core/accounts.js";
import { runRepoMirror } from "../../src/core/jobs/repo-mirror.js";
import type { JobContext } from "../../src/core/jobs/scheduler.js";
import { createApp } from "../../src/http/app.js";
import { basicAuth } from "../support/api-harness.js";
import { fakeClock } from "../support/fake-clock.js";
import { startFaultProxy, type FaultProxy } from "../support/fault-proxy.js";
import { recordUpstream, storedDigest, withUpstreamDownAt, type UpstreamRecorder } from "../support/mirror-seed.js";
import { startOriginRegistry, TEST_HOST, type OriginFixture } from "../support/origin-registry.js";
import { startPierUpstream, type PierUpstream } from "../support/pier-upstream.js";
import { unique } from "../support/quay-seed.js";
import { pushImage, type PushedImage } from "../support/upstream-registry.js";

const SECRET_KEY = "mirror-pier-test-database-secret";
const clock = fakeClock(Date.now());
const context: JobContext = { dryRun: false, report: () => {}, reclaimed: () => {} };
let origin: OriginFixture;
let upstream: PierUpstream;
let faulty: FaultProxy;
let app: ReturnType<typeof createApp>;
const org = unique("piermirrors");
let owner: { username: string; basic: string };
let writer: { username: string; basic: string };
let robotToken: string;
let recorder: UpstreamRecorder;

async function user(prefix: string): Promise<{ username: string; basic: string }> {
  const username = unique(prefix);
  const password = `pw-${crypto.randomUUID()}`;
  await ensureUser(origin.registry.sql, clock, {
    username,
    email: `${username}@users.test`,
    password,
    removedTagExpirationSeconds: 1_209_600,
  });
  return { username, basic: basicAuth(username, password) };
}

async function call(method: string, path: string, auth: string, body?: unknown): Promise<{ status: number; json: any }> {
  const headers: Record<string, string> = { authorization: auth };
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await app.request(`https://${TEST_HOST}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : null };
}

/** A bearer token of the upstream's user for its repository (pushes there). */
async function upstreamAuthorization(repository: string): Promise<string> {
  const query = new URLSearchParams({ service: upstream.host, scope: `repository:${repository}:pull,push` });
  const response = await fetch(`${upstream.url}/v2/auth?${query}`, {
    headers: { authorization: basicAuth(upstream.username, upstream.password) },
  });
  expect(response.status).toBe(200);
  return `Bearer ${((await response.json()) as { token: string }).token}`;
}

const pushUpstream = async (repository: string, tag: string, layerSizes: number[]) =>
  pushImage(upstream.url, repository, tag, { layerSizes, authorization: await upstreamAuthorization(repository) });

/** A MIRROR repository of `host/repository` with `globs`, due now, created and set to sync now through the REST API. */
async function mirrorOf(host: string, repository: string, globs: string[]): Promise<string> {
  const repo = unique("mirrored");
  const created = await call("POST", "/api/v1/repository", owner.basic, {
    namespace: org,
    repository: repo,
    visibility: "private",
    description: "",
  });
  expect(created.status).toBe(201);
  const mirror = await call("POST", `/api/v1/repository/${org}/${repo}/mirror`, owner.basic, {
    external_reference: `${host}/${repository}`,
    external_registry_username: upstream.username,
    external_registry_password: upstream.password,
    external_registry_config: { verify_tls: false },
    sync_interval: 3600,
    sync_start_date: new Date(clock.now() - 60_000).toISOString().replace(/\.\d{3}Z$/, "Z"),
    root_rule: { rule_kind: "tag_glob_csv", rule_value: globs },
    skopeo_timeout_interval: 300,
    robot_username: `${org}+syncer`,
  });
  expect(mirror.status).toBe(201);
  expect((await call("POST", `/api/v1/repository/${org}/${repo}/mirror/sync-now`, owner.basic)).status).toBe(204);
  return repo;
}

async function localTags(repo: string): Promise<Record<string, string>> {
  const { rows } = await origin.direct.query<{ name: string; digest: string }>(
    `SELECT t.name, m.digest FROM tag t JOIN manifest m ON m.id = t.manifest_id JOIN repository r ON r.id = t.repository_id
     JOIN "user" n ON n.id = r.namespace_user_id
     WHERE n.username = $1 AND r.name = $2 AND NOT t.hidden AND (t.lifetime_end_ms IS NULL OR t.lifetime_end_ms > $3) ORDER BY t.name`,
    [org, repo, clock.now()],
  );
  return Object.fromEntries(rows.map((r) => [r.name, r.digest]));
}

async function syncStatus(repo: string): Promise<number> {
  const reply = await call("GET", `/api/v1/repository/${org}/${repo}/mirror`, owner.basic);
  expect(reply.status).toBe(200);
  return { SUCCESS: 1, FAIL: -1, SYNC_NOW: 3, NEVER_RUN: 0, SYNCING: 2, CANCEL: -2 }[reply.json.sync_status as string]!;
}

const layersOf = (...images: PushedImage[]) => images.flatMap((image) => image.layers);

/** The actions /v2/auth grants `auth` on the mirrored repository, and the status of an upload opened with that token. */
async function pushAttempt(auth: string, repo: string): Promise<{ actions: string[]; upload: number }> {
  const query = new URLSearchParams({ service: TEST_HOST, scope: `repository:${org}/${repo}:pull,push` });
  const login = await app.request(`https://${TEST_HOST}/v2/auth?${query}`, { headers: { authorization: auth } });
  expect(login.status).toBe(200);
  const token = ((await login.json()) as { token: string }).token;
  const claims = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()) as { access: { actions: string[] }[] };
  const upload = await app.request(`https://${TEST_HOST}/v2/${org}/${repo}/blobs/uploads/`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}` },
  });
  await upload.body?.cancel();
  return { actions: claims.access[0]!.actions, upload: upload.status };
}

beforeAll(async () => {
  upstream = await startPierUpstream("mirrorpier-up");
  const [host, port] = upstream.host.split(":");
  faulty = await startFaultProxy({ host: host!, port: Number(port) });
  origin = await startOriginRegistry("mirrorpier", clock, {
    env: { PIER_REPO_MIRROR: "true", PIER_SSRF_ALLOWED_HOSTS: "127.0.0.1", PIER_DATABASE_SECRET_KEY: SECRET_KEY },
  });
  recorder = recordUpstream(origin.registry);
  app = createApp(origin.registry);
  owner = await user("owner");
  writer = await user("writer");
  expect((await call("POST", "/api/v1/organization/", owner.basic, { name: org })).status).toBe(201);
  const robot = await call("PUT", `/api/v1/organization/${org}/robots/syncer`, owner.basic);
  expect(robot.status).toBe(201);
  robotToken = robot.json.token;
}, 120_000);

afterAll(async () => {
  await origin?.close();
  await faulty?.close();
  await upstream?.close();
});

describe("mirroring a second Pier behind bearer tokens", () => {
  let repo: string;
  let latest: PushedImage;
  let v11: PushedImage;
  let v10: PushedImage;

  it("copies the tags matching the globs with their verified blobs, logging in at the upstream's realm", async () => {
    latest = await pushUpstream(upstream.repository, "latest", [30_000, 2_000]);
    v10 = await pushUpstream(upstream.repository, "v1.0", [12_000]);
    v11 = await pushUpstream(upstream.repository, "v1.1", [9_000]);
    await pushUpstream(upstream.repository, "dev", [7_000]);
    repo = await mirrorOf(upstream.host, upstream.repository, ["latest", "v1.*"]);
    recorder.sent.length = 0;

    expect(await runRepoMirror(origin.registry, context)).toBe(1);

    expect(await localTags(repo)).toEqual({ latest: latest.digest, "v1.0": v10.digest, "v1.1": v11.digest });
    expect(await syncStatus(repo)).toBe(1);
    for (const layer of layersOf(latest, v10, v11)) expect(await storedDigest(origin.registry.blobs, layer.digest)).toBe(layer.digest);
    // The bearer dance happened against the upstream's own realm; the unmatched tag was never read.
    expect(recorder.sent).toContain("GET /v2/auth");
    expect(recorder.sent.some((line) => line.endsWith("/manifests/dev"))).toBe(false);
    expect(recorder.blobGets().length).toBe(new Set(recorder.blobGets()).size);
  });

  it("refuses /v2 pushes into the mirrored repository to a writer (pull only, upload 401) and lets its robot push", async () => {
    expect(
      (await call("PUT", `/api/v1/repository/${org}/${repo}/permissions/user/${writer.username}`, owner.basic, { role: "write" })).status,
    ).toBe(200);
    expect(await pushAttempt(writer.basic, repo)).toEqual({ actions: ["pull"], upload: 401 });
    expect(await pushAttempt(basicAuth(`${org}+syncer`, robotToken), repo)).toEqual({ actions: ["pull", "push"], upload: 202 });
  });

  it("after a retag upstream a re-sync fetches only the new layer; a tag deleted upstream is ended locally", async () => {
    clock.advance(1000);
    const moved = await pushUpstream(upstream.repository, "latest", [5_000]);
    const deleted = await fetch(`${upstream.url}/api/v1/repository/${upstream.repository}/tag/v1.1`, {
      method: "DELETE",
      headers: { authorization: basicAuth(upstream.username, upstream.password) },
    });
    expect(deleted.status).toBe(204);
    expect((await call("POST", `/api/v1/repository/${org}/${repo}/mirror/sync-now`, owner.basic)).status).toBe(204);
    recorder.sent.length = 0;

    expect(await runRepoMirror(origin.registry, context)).toBe(1);

    expect(await localTags(repo)).toEqual({ latest: moved.digest, "v1.0": v10.digest });
    // The config blob is shared by every image pushed: only the new layer crossed.
    expect(recorder.blobGets()).toEqual([`GET /v2/${upstream.repository}/blobs/${moved.layers[0]!.digest}`]);
    expect(await storedDigest(origin.registry.blobs, moved.layers[0]!.digest)).toBe(moved.layers[0]!.digest);
  });

  it("an upstream going down mid-sync fails the run; the next run resumes without fetching again what arrived", async () => {
    clock.advance(1000);
    const repository = `${upstream.username}/flaky`;
    const images: PushedImage[] = [];
    for (const tag of ["a1", "a2", "a3"]) images.push(await pushUpstream(repository, tag, [11_000 + images.length]));
    const flaky = await mirrorOf(`127.0.0.1:${faulty.port}`, repository, ["a*"]);
    expect(await withUpstreamDownAt(recorder, faulty, "/manifests/a2", () => runRepoMirror(origin.registry, context))).toBe(1);
    expect(await syncStatus(flaky)).toBe(-1);
    expect(Object.keys(await localTags(flaky))).toEqual(["a1"]);
    const arrived = images[0]!.layers[0]!.digest;
    expect(recorder.blobGets()).toContain(`GET /v2/${repository}/blobs/${arrived}`);

    clock.advance(30_000);
    recorder.sent.length = 0;
    expect(await runRepoMirror(origin.registry, context)).toBe(1);
    expect(await localTags(flaky)).toEqual({ a1: images[0]!.digest, a2: images[1]!.digest, a3: images[2]!.digest });
    expect(recorder.blobGets().filter((line) => line.endsWith(arrived))).toEqual([]);
    expect(await syncStatus(flaky)).toBe(1);
  });
});
