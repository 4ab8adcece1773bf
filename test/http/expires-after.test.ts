/**
 * `quay.expires-after` through real pushes to the origin app (PostgreSQL, Redis, S3):
 * the image config's label (or an OCI annotation, which wins) is stored as Quay's label
 * rows and ends every tag the manifest is pushed to; once the fake clock passes that end
 * pulls answer TAG_EXPIRED and tags/list drops the tag. Values Quay ignores are ignored.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MediaType } from "../../src/core/model/media-types.js";
import { parseExpiresAfter } from "../../src/core/push/expires-after.js";
import { fakeClock } from "../support/fake-clock.js";
import { startPushScene, type PushScene } from "../support/origin-registry.js";

const clock = fakeClock(Date.UTC(2026, 6, 1));
const HOUR = 3_600_000;
let scene: PushScene;

const sha256 = (bytes: string) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

beforeAll(async () => {
  scene = await startPushScene("expires", { clock });
  // A running instance refreshes its key every 55 minutes; the fake clock jumps hours instead.
  await scene.origin.direct.query(`UPDATE servicekey SET expiration_date = $1`, [new Date(clock.now() + 30 * 24 * HOUR)]);
}, 60_000);
afterAll(() => scene?.origin.close());

/** A fresh token (the fake clock moves past the scene's writer token). */
async function token(): Promise<string> {
  return scene.origin.token("writer", { [scene.repo]: ["pull", "push"] });
}

async function blob(content: string, mediaType: string) {
  const digest = sha256(content);
  const response = await scene.call("POST", `/v2/${scene.repo}/blobs/uploads/?digest=${digest}`, { body: content, token: await token() });
  expect(response.status).toBe(201);
  return { mediaType, digest, size: Buffer.byteLength(content) };
}

/** Pushes an image whose config carries `label` (and the manifest `annotation`) to `tag`; returns its digest. */
async function pushImage(tag: string, options: { label?: string; annotation?: string; docker?: boolean; seed?: string; padding?: string }) {
  const seed = options.seed ?? crypto.randomUUID();
  const labels = options.label === undefined ? {} : { "quay.expires-after": options.label };
  const config = await blob(
    JSON.stringify({ architecture: "amd64", os: "linux", config: { Labels: { ...labels, other: "x" } }, seed, padding: options.padding }),
    options.docker ? "application/vnd.docker.container.image.v1+json" : "application/vnd.oci.image.config.v1+json",
  );
  const layer = await blob(
    `layer ${seed}`,
    options.docker ? "application/vnd.docker.image.rootfs.diff.tar.gzip" : "application/vnd.oci.image.layer.v1.tar+gzip",
  );
  const mediaType = options.docker ? MediaType.dockerManifest : MediaType.ociManifest;
  const annotations = options.annotation === undefined ? {} : { annotations: { "quay.expires-after": options.annotation } };
  const text = JSON.stringify({ schemaVersion: 2, mediaType, config, layers: [layer], ...annotations });
  return putManifest(tag, text, mediaType);
}

async function putManifest(reference: string, text: string, mediaType: string) {
  clock.advance(1000);
  const response = await scene.call("PUT", `/v2/${scene.repo}/manifests/${reference}`, {
    body: text,
    headers: { "content-type": mediaType },
    token: await token(),
  });
  expect(response.status).toBe(201);
  return { digest: sha256(text), text, mediaType };
}

/** The alive-or-not tag row's lifetime in ms (null: no end). */
async function lifetime(tag: string): Promise<number | null> {
  const { rows } = await scene.origin.direct.query<{ lifetime: string | null }>(
    `SELECT (lifetime_end_ms - lifetime_start_ms)::text AS lifetime FROM tag WHERE repository_id = $1 AND name = $2 ORDER BY id DESC LIMIT 1`,
    [scene.repoId, tag],
  );
  return rows[0]!.lifetime === null ? null : Number(rows[0]!.lifetime);
}

async function pullCode(tag: string): Promise<string> {
  const response = await scene.call("GET", `/v2/${scene.repo}/manifests/${tag}`, {
    headers: { accept: `${MediaType.ociManifest},${MediaType.dockerManifest},${MediaType.ociIndex}` },
    token: await token(),
  });
  if (response.status === 200) return "OK";
  return ((await response.json()) as { errors: { code: string }[] }).errors[0]!.code;
}

async function listedTags(): Promise<string[]> {
  const response = await scene.call("GET", `/v2/${scene.repo}/tags/list`, { token: await token() });
  return ((await response.json()) as { tags: string[] }).tags;
}

describe("quay.expires-after", () => {
  it("ends the pushed tag as the config label says; pulls then answer TAG_EXPIRED", async () => {
    const pushed = await pushImage("short", { label: "2h" });
    expect(await lifetime("short")).toBe(2 * HOUR);
    const { rows } = await scene.origin.direct.query(
      `SELECT l.key, l.value, mt.name AS media_type, st.name AS source FROM manifestlabel ml
       JOIN manifest m ON m.id = ml.manifest_id JOIN label l ON l.id = ml.label_id
       JOIN mediatype mt ON mt.id = l.media_type_id JOIN labelsourcetype st ON st.id = l.source_type_id
       WHERE m.repository_id = $1 AND m.digest = $2`,
      [scene.repoId, pushed.digest],
    );
    expect(rows).toEqual([{ key: "quay.expires-after", value: "2h", media_type: "text/plain", source: "manifest" }]);
    expect(await pullCode("short")).toBe("OK");
    expect(await listedTags()).toContain("short");
    clock.advance(2 * HOUR);
    expect(await pullCode("short")).toBe("TAG_EXPIRED");
    expect(await listedTags()).not.toContain("short");
  });

  it("reads Docker schema2 configs too, and an OCI annotation wins over the config label", async () => {
    await pushImage("docker", { label: "3d", docker: true });
    expect(await lifetime("docker")).toBe(72 * HOUR);
    await pushImage("annotated", { label: "2h", annotation: "1w" });
    expect(await lifetime("annotated")).toBe(7 * 24 * HOUR);
  });

  it("re-pushing a labelled manifest to another tag applies the stored label", async () => {
    const pushed = await pushImage("first", { label: "30m" });
    await putManifest("second", pushed.text, pushed.mediaType);
    expect(await lifetime("second")).toBe(30 * 60_000);
    await putManifest(`${pushed.digest}?tag=third`, pushed.text, pushed.mediaType);
    expect(await lifetime("third")).toBe(30 * 60_000);
  });

  it("an index counts only when all its children carry the same value", async () => {
    const child = async (label: string) => {
      const pushed = await pushImage(`child-${crypto.randomUUID().slice(0, 8)}`, { label });
      return { mediaType: MediaType.ociManifest, digest: pushed.digest, size: Buffer.byteLength(pushed.text) };
    };
    const same = [await child("5h"), await child("5h")];
    await putManifest("same", JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: same }), MediaType.ociIndex);
    expect(await lifetime("same")).toBe(5 * HOUR);
    const mixed = [await child("5h"), await child("6h")];
    await putManifest("mixed", JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: mixed }), MediaType.ociIndex);
    expect(await lifetime("mixed")).toBeNull();
  });

  it("ignores values Quay cannot parse, 0s, and negative values (the label row is still stored)", async () => {
    for (const [tag, label] of [
      ["garbage", "soon"],
      ["zero", "0s"],
      ["negative", "-1h"],
      ["unit", "2H"],
    ] as const) {
      await pushImage(tag, { label });
      expect(await lifetime(tag)).toBeNull();
      expect(await pullCode(tag)).toBe("OK");
    }
    const { rows } = await scene.origin.direct.query<{ value: string }>(
      `SELECT l.value FROM label l JOIN manifestlabel ml ON ml.label_id = l.id WHERE ml.repository_id = $1 AND l.value IN ('soon', '0s', '-1h', '2H') ORDER BY l.id`,
      [scene.repoId],
    );
    expect(rows.map((r) => r.value)).toEqual(["soon", "0s", "-1h", "2H"]);
  });
});

describe("config size", () => {
  it("does not read a config above 1 MiB for its label", async () => {
    await pushImage("huge", { label: "2h", padding: "x".repeat(1024 * 1024) });
    expect(await lifetime("huge")).toBeNull();
    await pushImage("small", { label: "2h", padding: "x".repeat(1000) });
    expect(await lifetime("small")).toBe(2 * HOUR);
  });
});

describe("parseExpiresAfter", () => {
  it("reads Quay's units and refuses what Quay's convert_to_timedelta refuses", () => {
    expect(parseExpiresAfter("10s")).toBe(10_000);
    expect(parseExpiresAfter("5m")).toBe(300_000);
    expect(parseExpiresAfter("1d")).toBe(86_400_000);
    expect(parseExpiresAfter("2w")).toBe(14 * 86_400_000);
    expect(parseExpiresAfter("1y")).toBe(365 * 86_400_000);
    expect(parseExpiresAfter(" 7h")).toBe(7 * HOUR);
    expect(parseExpiresAfter("1_0s")).toBe(10_000);
    for (const value of ["", "h", "1", "1.5h", "1hour", "0s", "-2d", "9999999999y"]) expect(parseExpiresAfter(value)).toBeNull();
  });
});
