/**
 * Quay's tag REST API through /api/v1 on real PostgreSQL: the tag-row history with its
 * filters and pages, expiration set and cleared, moves, deletes and restores from the
 * time machine (the tag pulls again), immutable tags, permissions, repository state and
 * Quay's 4xx shapes — with the rows and audit entries Quay would write.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MediaType } from "../../src/core/model/media-types.js";
import type { BlobStore } from "../../src/core/ports/blob-store.js";
import { EXPIRES_AFTER, insertManifestLabel } from "../../src/db/queries/manifest-labels.js";
import { API_HOST, basicAuth, bearer, startApiHarness, type ApiHarness, type TestUser } from "../support/api-harness.js";
import { fakeClock } from "../support/fake-clock.js";
import { createRepository, storeManifest, tagManifest, unique, type StoredManifest } from "../support/quay-seed.js";

const clock = fakeClock(Date.UTC(2026, 5, 1, 12));
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
let api: ApiHarness;
let owner: TestUser;
let reader: TestUser;
let seed: { sql: ApiHarness["sql"]; blobs: BlobStore };

beforeAll(async () => {
  api = await startApiHarness("apitags", {}, clock);
  owner = await api.user("owner");
  reader = await api.user("reader");
  seed = { sql: api.sql, blobs: api.registry.blobs };
});
afterAll(() => api?.close());

/** A repository of the owner with `reader` granted read. */
async function repository(options: { visibility?: "public" | "private"; state?: number } = {}) {
  const name = unique("r");
  const id = await createRepository(seed, owner.id, name, { visibility: options.visibility ?? "private", state: options.state ?? 0 });
  const grant = await api.call("PUT", `/api/v1/repository/${owner.username}/${name}/permissions/user/${reader.username}`, {
    auth: owner.basic,
    body: { role: "read" },
  });
  expect(grant.status).toBe(200);
  return { id, full: `${owner.username}/${name}`, base: `/api/v1/repository/${owner.username}/${name}/tag` };
}

async function image(repositoryId: number, seedText: string): Promise<StoredManifest> {
  const hex = (c: string) => `sha256:${c.repeat(64)}`;
  const text = JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: hex("a"), size: 10 },
    layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: hex("b"), size: 1234 }],
    annotations: { seed: seedText },
  });
  return storeManifest(seed, repositoryId, text, MediaType.ociManifest);
}

/** A write a little later than the previous one (the fake clock stands still otherwise). */
function later<T>(write: () => Promise<T>): Promise<T> {
  clock.advance(1000);
  return write();
}

async function tagRows(repositoryId: number, name: string) {
  const { rows } = await api.sql.query<{ digest: string; start: string; end: string | null; reversion: boolean }>(
    `SELECT m.digest, t.lifetime_start_ms::text AS start, t.lifetime_end_ms::text AS end, t.reversion
     FROM tag t JOIN manifest m ON m.id = t.manifest_id WHERE t.repository_id = $1 AND t.name = $2 ORDER BY t.lifetime_start_ms`,
    [repositoryId, name],
  );
  return rows;
}

async function auditEntries(repositoryId: number, kind: string): Promise<Record<string, unknown>[]> {
  const { rows } = await api.sql.query<{ metadata_json: string }>(
    `SELECT l.metadata_json FROM logentry3 l JOIN logentrykind k ON k.id = l.kind_id WHERE k.name = $2 AND l.repository_id = $1 ORDER BY l.id`,
    [repositoryId, kind],
  );
  return rows.map((r) => JSON.parse(r.metadata_json) as Record<string, unknown>);
}

/** The digest a pull of `full:tag` answers, or its error code. */
async function pull(full: string, tag: string): Promise<string> {
  const query = new URLSearchParams({ service: API_HOST, scope: `repository:${full}:pull` });
  const auth = await api.app.request(`https://${API_HOST}/v2/auth?${query}`, {
    headers: { authorization: basicAuth(owner.username, owner.password) },
  });
  const { token } = (await auth.json()) as { token: string };
  const response = await api.app.request(`https://${API_HOST}/v2/${full}/manifests/${tag}`, {
    headers: { authorization: bearer(token), accept: MediaType.ociManifest + "," + MediaType.ociIndex },
  });
  if (response.status === 200) return response.headers.get("docker-content-digest")!;
  return ((await response.json()) as { errors: { code: string }[] }).errors[0]!.code;
}

describe("GET …/tag/", () => {
  let repo: Awaited<ReturnType<typeof repository>>;
  let a: StoredManifest;
  let b: StoredManifest;
  let index: StoredManifest;
  const t0 = clock.now() - 10 * HOUR;

  beforeAll(async () => {
    repo = await repository();
    a = await image(repo.id, "a");
    b = await image(repo.id, "b");
    const indexText = JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociIndex,
      manifests: [a, b].map((m) => ({ mediaType: m.mediaType, digest: m.digest, size: Buffer.byteLength(m.text) })),
    });
    index = await storeManifest(seed, repo.id, indexText, MediaType.ociIndex, { children: [a, b] });
    await tagManifest(seed, repo.id, "v1", a.id, { startMs: t0, endMs: t0 + HOUR });
    await tagManifest(seed, repo.id, "v1", b.id, { startMs: t0 + HOUR });
    await tagManifest(seed, repo.id, "Latest", index.id, { startMs: t0 + 2 * HOUR, endMs: clock.now() + DAY });
    await tagManifest(seed, repo.id, "old", a.id, { startMs: t0 + HOUR, endMs: t0 + 3 * HOUR });
    await tagManifest(seed, repo.id, "$temp-hidden", a.id, { startMs: t0 + 4 * HOUR, hidden: true });
  });

  it("lists the visible tag-row history newest first, with Quay's tag view", async () => {
    const reply = await api.call("GET", `${repo.base}/`, { auth: reader.basic });
    expect(reply.status).toBe(200);
    expect(reply.json.page).toBe(1);
    expect(reply.json.has_additional).toBe(false);
    const tags = reply.json.tags as Record<string, unknown>[];
    expect(tags.map((t) => [t.name, t.manifest_digest])).toEqual([
      ["Latest", index.digest],
      ["old", a.digest],
      ["v1", b.digest],
      ["v1", a.digest],
    ]);
    const startS = Math.floor((t0 + 2 * HOUR) / 1000);
    const endS = Math.floor((clock.now() + DAY) / 1000);
    expect(tags[0]).toEqual({
      name: "Latest",
      reversion: false,
      immutable: false,
      manifest_digest: index.digest,
      is_manifest_list: true,
      size: null,
      start_ts: startS,
      last_modified: "Mon, 01 Jun 2026 04:00:00 -0000",
      end_ts: endS,
      expiration: "Tue, 02 Jun 2026 12:00:00 -0000",
      is_sparse: false,
      child_manifest_count: 2,
      present_child_count: 2,
      child_manifests_presence: { [a.digest]: true, [b.digest]: true },
    });
    expect(tags[2]).toEqual({
      name: "v1",
      reversion: false,
      immutable: false,
      manifest_digest: b.digest,
      is_manifest_list: false,
      size: 1234,
      start_ts: Math.floor((t0 + HOUR) / 1000),
      last_modified: "Mon, 01 Jun 2026 03:00:00 -0000",
    });
  });

  it("filters: onlyActiveTags, specificTag, filter_tag_name like (any case) and eq", async () => {
    const names = async (query: string) =>
      ((await api.call("GET", `${repo.base}/?${query}`, { auth: reader.basic })).json.tags as { name: string }[]).map((t) => t.name);
    expect(await names("onlyActiveTags=true")).toEqual(["Latest", "v1"]);
    expect(await names("specificTag=v1")).toEqual(["v1", "v1"]);
    expect(await names("specificTag=v1&onlyActiveTags=1")).toEqual(["v1"]);
    expect(await names("filter_tag_name=like:lat")).toEqual(["Latest"]);
    expect(await names("filter_tag_name=like:_")).toEqual([]);
    expect(await names("filter_tag_name=eq:old")).toEqual(["old"]);
    expect(await names("filter_tag_name=regex:x")).toEqual(["Latest", "old", "v1", "v1"]);
  });

  it("pages with limit (clamped to 1..100) and has_additional", async () => {
    const first = await api.call("GET", `${repo.base}/?limit=3`, { auth: reader.basic });
    expect(first.json).toMatchObject({ page: 1, has_additional: true });
    expect(first.json.tags).toHaveLength(3);
    const second = await api.call("GET", `${repo.base}/?limit=3&page=2`, { auth: reader.basic });
    expect(second.json).toMatchObject({ page: 2, has_additional: false });
    expect(second.json.tags.map((t: { manifest_digest: string }) => t.manifest_digest)).toEqual([a.digest]);
    const zero = await api.call("GET", `${repo.base}/?limit=0`, { auth: reader.basic });
    expect(zero.json.tags).toHaveLength(1);
    expect(zero.json.has_additional).toBe(true);
    const big = await api.call("GET", `${repo.base}?limit=1000`, { auth: reader.basic });
    expect(big.json.tags).toHaveLength(4);
  });

  it("answers Quay's 400s for bad query values", async () => {
    const syntax = await api.call("GET", `${repo.base}/?filter_tag_name=latest`, { auth: reader.basic });
    expect(syntax.status).toBe(400);
    expect(syntax.json.message).toBe(
      "Unsupported syntax for filter_tag_name. Expected <operation>:<tag_name> where <operation>can be 'like' or 'eq'.",
    );
    const limit = await api.call("GET", `${repo.base}/?limit=ten`, { auth: reader.basic });
    expect(limit.status).toBe(400);
    expect(limit.json.error_type).toBe("invalid_request");
  });

  it("needs read access: 401 anonymous, 403 strangers, 200 for superusers and on public repositories", async () => {
    const stranger = await api.user("stranger");
    expect((await api.call("GET", `${repo.base}/`)).status).toBe(401);
    expect((await api.call("GET", `${repo.base}/`, { auth: stranger.basic })).status).toBe(403);
    expect((await api.call("GET", `${repo.base}/`, { auth: api.root.basic })).status).toBe(200);
    const open = await repository({ visibility: "public" });
    expect((await api.call("GET", `${open.base}/`)).status).toBe(200);
    expect((await api.call("GET", `/api/v1/repository/${owner.username}/missing/tag/`, { auth: owner.basic })).status).toBe(404);
  });
});

describe("PUT …/tag/<tag>", () => {
  it("sets an expiration within Quay's bounds, clears it, and audits both", async () => {
    const repo = await repository();
    const m = await image(repo.id, "exp");
    const startMs = clock.now() - HOUR / 2;
    await tagManifest(seed, repo.id, "rel", m.id, { startMs });
    const expiration = Math.floor(clock.now() / 1000) + 7 * 86_400;
    const set = await later(() => api.call("PUT", `${repo.base}/rel`, { auth: owner.basic, body: { expiration } }));
    expect(set.status).toBe(201);
    expect(set.json).toBe("Updated");
    expect(await tagRows(repo.id, "rel")).toEqual([
      { digest: m.digest, start: String(startMs), end: String(expiration * 1000), reversion: false },
    ]);
    // Sooner than an hour after the tag's start: raised to start + 1h.
    const soon = Math.floor(clock.now() / 1000) + 60;
    await later(() => api.call("PUT", `${repo.base}/rel`, { auth: owner.basic, body: { expiration: soon } }));
    expect((await tagRows(repo.id, "rel"))[0]!.end).toBe(String(startMs + HOUR));
    // Fractions of a second (Quay takes a float) end on the millisecond.
    const fraction = Math.floor(clock.now() / 1000) + 86_400 + 0.25;
    await later(() => api.call("PUT", `${repo.base}/rel`, { auth: owner.basic, body: { expiration: fraction } }));
    expect((await tagRows(repo.id, "rel"))[0]!.end).toBe(String(fraction * 1000));
    const cleared = await later(() => api.call("PUT", `${repo.base}/rel`, { auth: owner.basic, body: { expiration: null } }));
    expect(cleared.status).toBe(201);
    expect((await tagRows(repo.id, "rel"))[0]!.end).toBeNull();
    // Nothing to clear: no audit entry.
    await later(() => api.call("PUT", `${repo.base}/rel`, { auth: owner.basic, body: { expiration: null } }));
    const base = { username: owner.username, repo: repo.full.split("/")[1], tag: "rel", namespace: owner.username };
    expect(await auditEntries(repo.id, "change_tag_expiration")).toEqual([
      { ...base, expiration_date: expiration, old_expiration_date: null },
      { ...base, expiration_date: soon, old_expiration_date: expiration * 1000 },
      { ...base, expiration_date: fraction, old_expiration_date: startMs + HOUR },
      { ...base, expiration_date: null, old_expiration_date: fraction * 1000 },
    ]);
    expect(await pull(repo.full, "rel")).toBe(m.digest);
  });

  it("refuses a past expiration, a missing tag, an invalid name and wrongly typed fields", async () => {
    const repo = await repository();
    const m = await image(repo.id, "bad");
    await tagManifest(seed, repo.id, "t", m.id, { startMs: clock.now() - HOUR });
    const past = await api.call("PUT", `${repo.base}/t`, { auth: owner.basic, body: { expiration: Math.floor(clock.now() / 1000) - 1 } });
    expect(past.status).toBe(400);
    const missing = await api.call("PUT", `${repo.base}/nope`, { auth: owner.basic, body: { expiration: null } });
    expect(missing.status).toBe(404);
    const name = await api.call("PUT", `${repo.base}/.dot`, { auth: owner.basic, body: { expiration: null } });
    expect(name.status).toBe(400);
    expect(name.json.detail).toBe('Invalid tag: must match [A-Za-z0-9_.-], NOT start with "." or "-", and can contain 1-128 characters');
    const typed = await api.call("PUT", `${repo.base}/t`, { auth: owner.basic, body: { expiration: "soon" } });
    expect(typed.status).toBe(400);
    expect(typed.json.detail).toBe("'soon' is not of type ['number', 'null']");
    const noBody = await api.call("PUT", `${repo.base}/t`, { auth: owner.basic });
    expect(noBody.json.detail).toBe("Missing JSON body");
    expect((await tagRows(repo.id, "t"))[0]!.end).toBeNull();
  });

  it("moves a tag to a tagged manifest (history kept, label expiry applied) and creates new tags", async () => {
    const repo = await repository();
    const a = await image(repo.id, "ma");
    const b = await image(repo.id, "mb");
    await insertManifestLabel(api.sql, repo.id, b.id, EXPIRES_AFTER, "2d");
    await tagManifest(seed, repo.id, "stable", a.id, { startMs: clock.now() - HOUR });
    await tagManifest(seed, repo.id, "edge", b.id, { startMs: clock.now() - HOUR });
    expect(await pull(repo.full, "stable")).toBe(a.digest);
    const moved = await later(() => api.call("PUT", `${repo.base}/stable`, { auth: owner.basic, body: { manifest_digest: b.digest } }));
    expect(moved.status).toBe(201);
    const at = clock.now();
    expect(await tagRows(repo.id, "stable")).toEqual([
      { digest: a.digest, start: String(at - 1000 - HOUR), end: String(at), reversion: false },
      { digest: b.digest, start: String(at), end: String(at + 2 * DAY), reversion: false },
    ]);
    expect(await pull(repo.full, "stable")).toBe(b.digest);
    const created = await later(() => api.call("PUT", `${repo.base}/fresh`, { auth: owner.basic, body: { manifest_digest: b.digest } }));
    expect(created.status).toBe(201);
    const base = { username: owner.username, repo: repo.full.split("/")[1], namespace: owner.username };
    expect(await auditEntries(repo.id, "move_tag")).toEqual([
      { ...base, tag: "stable", manifest_digest: b.digest, original_manifest_digest: a.digest },
    ]);
    expect(await auditEntries(repo.id, "create_tag")).toEqual([
      { ...base, tag: "fresh", manifest_digest: b.digest, original_manifest_digest: null },
    ]);
  });

  it("answers 404 for a manifest no alive visible tag holds", async () => {
    const repo = await repository();
    const dead = await image(repo.id, "dead");
    const hidden = await image(repo.id, "hidden");
    await tagManifest(seed, repo.id, "gone", dead.id, { startMs: clock.now() - 2 * HOUR, endMs: clock.now() - HOUR });
    await tagManifest(seed, repo.id, "$temp-x", hidden.id, { startMs: clock.now() - HOUR, hidden: true });
    for (const digest of [dead.digest, hidden.digest, `sha256:${"0".repeat(64)}`, null]) {
      const reply = await api.call("PUT", `${repo.base}/x`, { auth: owner.basic, body: { manifest_digest: digest } });
      expect(reply.status).toBe(404);
    }
    expect(await tagRows(repo.id, "x")).toEqual([]);
  });

  it("refuses writes to immutable tags: 409 on move, 400 on expiration", async () => {
    const repo = await repository();
    const a = await image(repo.id, "ia");
    const b = await image(repo.id, "ib");
    const id = await tagManifest(seed, repo.id, "locked", a.id, { startMs: clock.now() - HOUR });
    await api.sql.query(`UPDATE tag SET immutable = true WHERE id = $1`, [id]);
    await tagManifest(seed, repo.id, "other", b.id, { startMs: clock.now() - HOUR });
    const move = await later(() => api.call("PUT", `${repo.base}/locked`, { auth: owner.basic, body: { manifest_digest: b.digest } }));
    expect(move.status).toBe(409);
    expect(move.json).toMatchObject({ error_type: "tag_immutable", detail: "Cannot overwrite immutable tag 'locked'" });
    const expire = await later(() => api.call("PUT", `${repo.base}/locked`, { auth: owner.basic, body: { expiration: null } }));
    expect(expire.status).toBe(400);
    expect(expire.json.message).toBe("Cannot set expiration on immutable tag 'locked'");
    const remove = await later(() => api.call("DELETE", `${repo.base}/locked`, { auth: owner.basic }));
    expect(remove.status).toBe(409);
    expect(remove.json.detail).toBe("Cannot delete immutable tag 'locked'");
    expect(await tagRows(repo.id, "locked")).toEqual([
      { digest: a.digest, start: String(clock.now() - 3000 - HOUR), end: null, reversion: false },
    ]);
  });

  it("needs write access, and a repository in the NORMAL state (503 otherwise)", async () => {
    const repo = await repository();
    const m = await image(repo.id, "perm");
    await tagManifest(seed, repo.id, "t", m.id, { startMs: clock.now() - HOUR });
    expect((await api.call("PUT", `${repo.base}/t`, { body: { expiration: null } })).status).toBe(401);
    expect((await api.call("PUT", `${repo.base}/t`, { auth: reader.basic, body: { expiration: null } })).status).toBe(403);
    expect((await api.call("DELETE", `${repo.base}/t`, { auth: reader.basic })).status).toBe(403);
    expect((await api.call("POST", `${repo.base}/t/restore`, { auth: reader.basic, body: { manifest_digest: m.digest } })).status).toBe(
      403,
    );
    const frozen = await repository({ state: 1 });
    const reply = await api.call("DELETE", `${frozen.base}/t`, { auth: owner.basic });
    expect(reply.status).toBe(503);
    expect(reply.json.message).toBe("Repository is in read only or mirror mode: 1");
  });
});

describe("DELETE …/tag/<tag> and POST …/tag/<tag>/restore", () => {
  it("deletes (with Cosign siblings), then restores from the time machine: the tag pulls again", async () => {
    const repo = await repository();
    const m = await image(repo.id, "del");
    const sig = await image(repo.id, "sig");
    await insertManifestLabel(api.sql, repo.id, m.id, EXPIRES_AFTER, "1w");
    await tagManifest(seed, repo.id, "prod", m.id, { startMs: clock.now() - HOUR });
    await tagManifest(seed, repo.id, `${m.digest.replace(":", "-")}.sig`, sig.id, { startMs: clock.now() - HOUR });
    await api.sql.query(
      `INSERT INTO tagpullstatistics (repository_id, tag_name, tag_pull_count, last_tag_pull_date, current_manifest_digest)
       VALUES ($1, 'prod', 3, now(), $2), ($1, 'other', 1, now(), $2)`,
      [repo.id, m.digest],
    );
    const deleted = await later(() => api.call("DELETE", `${repo.base}/prod`, { auth: owner.basic }));
    expect(deleted.status).toBe(204);
    const stats = await api.sql.query<{ tag_name: string }>(`SELECT tag_name FROM tagpullstatistics WHERE repository_id = $1`, [repo.id]);
    expect(stats.rows).toEqual([{ tag_name: "other" }]);
    expect(await pull(repo.full, "prod")).toBe("TAG_EXPIRED");
    expect((await tagRows(repo.id, `${m.digest.replace(":", "-")}.sig`))[0]!.end).toBe(String(clock.now()));
    expect((await api.call("DELETE", `${repo.base}/prod`, { auth: owner.basic })).status).toBe(404);
    const restored = await later(() =>
      api.call("POST", `${repo.base}/prod/restore`, { auth: owner.basic, body: { manifest_digest: m.digest } }),
    );
    expect(restored.status).toBe(200);
    expect(restored.json).toEqual({});
    const rows = await tagRows(repo.id, "prod");
    expect(rows.at(-1)).toEqual({ digest: m.digest, start: String(clock.now()), end: String(clock.now() + 7 * DAY), reversion: true });
    expect(await pull(repo.full, "prod")).toBe(m.digest);
    const name = repo.full.split("/")[1];
    expect(await auditEntries(repo.id, "delete_tag")).toEqual([
      { username: owner.username, repo: name, namespace: owner.username, tag: "prod" },
    ]);
    expect(await auditEntries(repo.id, "revert_tag")).toEqual([
      { username: owner.username, repo: name, tag: "prod", manifest_digest: m.digest },
    ]);
  });

  it("refuses a restore outside the namespace's window, and bad restore bodies", async () => {
    const repo = await repository();
    const m = await image(repo.id, "window");
    await tagManifest(seed, repo.id, "t", m.id, { startMs: clock.now() - HOUR });
    await later(() => api.call("DELETE", `${repo.base}/t`, { auth: owner.basic }));
    const missing = await api.call("POST", `${repo.base}/t/restore`, { auth: owner.basic, body: {} });
    expect(missing.status).toBe(400);
    expect(missing.json.message).toBe("Missing manifest_digest");
    const typed = await api.call("POST", `${repo.base}/t/restore`, { auth: owner.basic, body: { manifest_digest: 7 } });
    expect(typed.json.detail).toBe("7 is not of type 'string'");
    const unknown = await api.call("POST", `${repo.base}/t/restore`, {
      auth: owner.basic,
      body: { manifest_digest: `sha256:${"1".repeat(64)}` },
    });
    expect(unknown.status).toBe(404);
    // The harness's users keep removed tags for 14 days (1209600 s).
    clock.advance(14 * DAY + 1000);
    const late = await api.call("POST", `${repo.base}/t/restore`, { auth: owner.basic, body: { manifest_digest: m.digest } });
    expect(late.status).toBe(404);
    expect((await tagRows(repo.id, "t")).map((row) => row.reversion)).toEqual([false]);
  });
});
