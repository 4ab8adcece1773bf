/**
 * Manifest pushes and deletes through the origin's app on real PostgreSQL, Redis and
 * S3: the rows Quay would write (read back with Quay-style queries), tag history,
 * lists, referrers, `?tag=`, every refusal, and what pulls see right after.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MediaType } from "../../src/core/model/media-types.js";
import { createApp } from "../../src/http/app.js";
import { startPushScene, TEST_HOST, type OriginFixture, type PushScene, type RequestInitLike } from "../support/origin-registry.js";
import { createNamespace, createRepository, unique } from "../support/quay-seed.js";

let scene: PushScene;
let origin: OriginFixture;
let app: PushScene["app"];
let repo: string;
let repoId: number;

const sha256 = (bytes: Uint8Array | string) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

function call(method: string, path: string, init?: RequestInitLike): Promise<Response> {
  return scene.call(method, path, init);
}

async function errorCode(response: Response): Promise<string> {
  return ((await response.json()) as { errors: { code: string }[] }).errors[0]!.code;
}

/** Uploads bytes as a blob and returns its descriptor. */
async function blob(content: string, mediaType = "application/vnd.oci.image.layer.v1.tar+gzip") {
  const digest = sha256(content);
  const response = await call("POST", `/v2/${repo}/blobs/uploads/?digest=${digest}`, { body: content });
  expect(response.status).toBe(201);
  return { mediaType, digest, size: Buffer.byteLength(content) };
}

async function image(seed: string, extra: Record<string, unknown> = {}) {
  const config = await blob(JSON.stringify({ architecture: "amd64", os: "linux", seed }), "application/vnd.oci.image.config.v1+json");
  const layer = await blob(`layer of ${seed}`);
  const text = JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociManifest, config, layers: [layer], ...extra });
  return { text, digest: sha256(text), config, layer };
}

function put(reference: string, text: string, contentType: string = MediaType.ociManifest, token?: string) {
  return call("PUT", `/v2/${repo}/manifests/${reference}`, { body: text, headers: { "content-type": contentType }, token });
}

async function tagRows(name: string) {
  const { rows } = await origin.registry.sql.query<{ digest: string; start: string; end: string | null; hidden: boolean }>(
    `SELECT m.digest, t.lifetime_start_ms::text AS start, t.lifetime_end_ms::text AS end, t.hidden
     FROM tag t JOIN manifest m ON m.id = t.manifest_id WHERE t.repository_id = $1 AND t.name = $2 ORDER BY t.id`,
    [repoId, name],
  );
  return rows;
}

beforeAll(async () => {
  scene = await startPushScene("mpush");
  ({ origin, app, repo, repoId } = scene);
}, 60_000);
afterAll(() => origin?.close());

describe("sha512 content", () => {
  const sha512 = (bytes: Uint8Array | string) => `sha512:${createHash("sha512").update(bytes).digest("hex")}`;

  async function mixedImage(seed: string) {
    const config = await blob(JSON.stringify({ architecture: "amd64", os: "linux", seed }), "application/vnd.oci.image.config.v1+json");
    const content = `sha512 layer of ${seed}`;
    const uploaded = await call("POST", `/v2/${repo}/blobs/uploads/?digest=${sha512(content)}`, { body: content });
    expect(uploaded.status).toBe(201);
    const layer = { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: sha512(content), size: Buffer.byteLength(content) };
    const text = JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociManifest, config, layers: [layer] });
    return { text, config, layer };
  }

  async function storedDigests(): Promise<{ digest: string; blobs: string[] }[]> {
    const { rows } = await origin.registry.sql.query<{ digest: string; blobs: string[] }>(
      `SELECT m.digest, array_agg(s.content_checksum ORDER BY s.content_checksum) AS blobs
       FROM manifest m JOIN manifestblob mb ON mb.manifest_id = m.id JOIN imagestorage s ON s.id = mb.blob_id
       WHERE m.repository_id = $1 AND m.digest LIKE 'sha512:%' GROUP BY m.digest`,
      [repoId],
    );
    return rows;
  }

  it("pushes a mixed image (sha256 config, sha512 layer) by tag and by sha512 digest, and serves it by that digest", async () => {
    const pushed = await mixedImage("mixed");
    const byTag = await put("mixed", pushed.text);
    expect(byTag.status).toBe(201);
    expect(byTag.headers.get("docker-content-digest")).toBe(sha256(pushed.text));

    const digest = sha512(pushed.text);
    const byDigest = await put(digest, pushed.text);
    expect(byDigest.status).toBe(201);
    expect(byDigest.headers.get("docker-content-digest")).toBe(digest);
    expect(byDigest.headers.get("location")).toBe(`/v2/${repo}/manifests/${digest}`);
    expect(await storedDigests()).toEqual([{ digest, blobs: [pushed.config.digest, pushed.layer.digest].sort() }]);

    for (const method of ["GET", "HEAD"]) {
      const read = await call(method, `/v2/${repo}/manifests/${digest}`, { headers: { accept: MediaType.ociManifest } });
      expect(read.status).toBe(200);
      expect(read.headers.get("docker-content-digest")).toBe(digest);
      expect(read.headers.get("content-length")).toBe(String(Buffer.byteLength(pushed.text)));
      if (method === "GET") expect(await read.text()).toBe(pushed.text);
    }
    const tagged = await call("GET", `/v2/${repo}/manifests/mixed`, { headers: { accept: MediaType.ociManifest } });
    expect(await tagged.text()).toBe(pushed.text);
  });

  it("refuses a sha512 reference the bytes do not match, and malformed ones, writing nothing", async () => {
    const pushed = await mixedImage("refused");
    const wrong = await put(sha512("other bytes"), pushed.text);
    expect(wrong.status).toBe(400);
    expect(await errorCode(wrong)).toBe("DIGEST_INVALID");
    const hex = sha512(pushed.text).slice("sha512:".length);
    for (const reference of [`sha512:${hex.toUpperCase()}`, `sha512:${hex.slice(0, 64)}`, `sha384:${hex.slice(0, 96)}`]) {
      const refused = await put(reference, pushed.text);
      expect([reference, refused.status]).toEqual([reference, 400]);
      expect(await errorCode(refused)).toMatch(/^(DIGEST_INVALID|MANIFEST_INVALID)$/);
    }
    expect((await storedDigests()).map((row) => row.digest)).not.toContain(sha512(pushed.text));
  });

  it("lists referrers of a sha512 subject, through the API and the spec's 64-character fallback tag", async () => {
    const subject = await mixedImage("subject");
    const subjectDigest = sha512(subject.text);
    expect((await put(subjectDigest, subject.text)).status).toBe(201);
    expect((await put("subject", subject.text)).status).toBe(201);
    const empty = await blob("{}", "application/vnd.oci.empty.v1+json");
    const descriptor = { mediaType: MediaType.ociManifest, digest: subjectDigest, size: Buffer.byteLength(subject.text) };
    const referrer = JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      artifactType: "application/vnd.example.sbom",
      config: empty,
      layers: [],
      subject: descriptor,
    });
    const pushed = await put(sha512(referrer), referrer);
    expect(pushed.status).toBe(201);
    expect(pushed.headers.get("oci-subject")).toBe(subjectDigest);

    // A client without the referrers API keeps an index under `sha512-<first 64 hex>`.
    const fallbackEntry = {
      mediaType: MediaType.ociManifest,
      digest: sha256(subject.text),
      size: descriptor.size,
      artifactType: "application/vnd.example.old",
    };
    const fallback = JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [fallbackEntry] });
    const tag = `sha512-${subjectDigest.slice("sha512:".length, "sha512:".length + 64)}`;
    expect((await put(tag, fallback, MediaType.ociIndex)).status).toBe(201);

    const listed = await call("GET", `/v2/${repo}/referrers/${subjectDigest}`);
    expect(listed.status).toBe(200);
    expect(((await listed.json()) as { manifests: { digest: string; artifactType: string }[] }).manifests).toEqual([
      expect.objectContaining({ digest: sha512(referrer), artifactType: "application/vnd.example.sbom" }),
      expect.objectContaining({ digest: sha256(subject.text), artifactType: "application/vnd.example.old" }),
    ]);
  });
});

describe("PUT manifest", () => {
  it("stores an image manifest by tag as Quay does and serves it at once", async () => {
    const pushed = await image("first");
    const response = await put("v1", pushed.text);
    expect(response.status).toBe(201);
    expect(response.headers.get("docker-content-digest")).toBe(pushed.digest);
    expect(response.headers.get("location")).toBe(`/v2/${repo}/manifests/${pushed.digest}`);

    // Quay's own read of the rows: manifest with its media type, blobs, scan status, alive tag.
    const { rows } = await origin.registry.sql.query(
      `SELECT mt.name AS media_type, m.manifest_bytes, m.config_media_type, m.layers_compressed_size::int AS layers_size,
              (SELECT array_agg(s.content_checksum ORDER BY s.content_checksum) FROM manifestblob mb JOIN imagestorage s ON s.id = mb.blob_id
               WHERE mb.manifest_id = m.id AND mb.repository_id = m.repository_id) AS blobs,
              (SELECT index_status FROM manifestsecuritystatus WHERE manifest_id = m.id) AS scan
       FROM manifest m JOIN mediatype mt ON mt.id = m.media_type_id WHERE m.repository_id = $1 AND m.digest = $2`,
      [repoId, pushed.digest],
    );
    expect(rows).toEqual([
      {
        media_type: MediaType.ociManifest,
        manifest_bytes: pushed.text,
        config_media_type: "application/vnd.oci.image.config.v1+json",
        layers_size: pushed.layer.size,
        blobs: [pushed.config.digest, pushed.layer.digest].sort(),
        scan: 0,
      },
    ]);
    expect(await tagRows("v1")).toMatchObject([{ digest: pushed.digest, end: null, hidden: false }]);

    const pulled = await call("GET", `/v2/${repo}/manifests/v1`, { headers: { accept: MediaType.ociManifest } });
    expect(await pulled.text()).toBe(pushed.text);
  });

  it("moves a tag by ending the old row and starting a new one, and pulls see the move", async () => {
    const before = await image("move-a");
    const after = await image("move-b");
    expect((await put("moving", before.text)).status).toBe(201);
    expect((await call("GET", `/v2/${repo}/manifests/moving`)).headers.get("docker-content-digest")).toBe(before.digest);
    expect((await put("moving", after.text)).status).toBe(201);
    const rows = await tagRows("moving");
    expect(rows.map((r) => r.digest)).toEqual([before.digest, after.digest]);
    expect(rows[0]!.end).not.toBeNull();
    expect(Number(rows[0]!.end)).toBeLessThanOrEqual(Number(rows[1]!.start));
    expect(rows[1]!.end).toBeNull();
    expect((await call("GET", `/v2/${repo}/manifests/moving`)).headers.get("docker-content-digest")).toBe(after.digest);
  });

  it("pushes by digest with a hidden temporary tag, and with ?tag= sets several tags (OCI-Tag)", async () => {
    const untagged = await image("by-digest");
    expect((await put(untagged.digest, untagged.text)).status).toBe(201);
    const { rows } = await origin.registry.sql.query<{ name: string; hidden: boolean; lifetime: string }>(
      `SELECT t.name, t.hidden, (t.lifetime_end_ms - t.lifetime_start_ms)::text AS lifetime FROM tag t JOIN manifest m ON m.id = t.manifest_id
       WHERE m.repository_id = $1 AND m.digest = $2`,
      [repoId, untagged.digest],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ hidden: true, lifetime: "3600000" });
    expect(rows[0]!.name).toMatch(/^\$temp-[0-9a-f-]{36}$/);

    const multi = await image("multi-tag");
    const response = await call("PUT", `/v2/${repo}/manifests/${multi.digest}?tag=a1&tag=a2`, {
      body: multi.text,
      headers: { "content-type": MediaType.ociManifest },
    });
    expect(response.status).toBe(201);
    expect(response.headers.get("oci-tag")).toBe("a1, a2");
    for (const tag of ["a1", "a2"])
      expect((await call("GET", `/v2/${repo}/manifests/${tag}`)).headers.get("docker-content-digest")).toBe(multi.digest);
  });

  it("stores an index over manifests of the repository, and refuses one over unknown children", async () => {
    const amd = await image("amd64");
    const arm = await image("arm64");
    for (const child of [amd, arm]) expect((await put(child.digest, child.text)).status).toBe(201);
    const entry = (m: { digest: string; text: string }, architecture: string) => ({
      mediaType: MediaType.ociManifest,
      digest: m.digest,
      size: Buffer.byteLength(m.text),
      platform: { os: "linux", architecture },
    });
    const index = JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociIndex,
      manifests: [entry(amd, "amd64"), entry(arm, "arm64")],
    });
    expect((await put("multiarch", index, MediaType.ociIndex)).status).toBe(201);
    const children = await origin.registry.sql.query<{ digest: string }>(
      `SELECT c.digest FROM manifestchild mc JOIN manifest p ON p.id = mc.manifest_id JOIN manifest c ON c.id = mc.child_manifest_id
       WHERE p.digest = $1 AND mc.repository_id = $2 ORDER BY c.digest`,
      [sha256(index), repoId],
    );
    expect(children.rows.map((r) => r.digest)).toEqual([amd.digest, arm.digest].sort());

    const missing = JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociIndex,
      manifests: [{ ...entry(amd, "amd64"), digest: sha256("nope") }],
    });
    const refused = await put("broken", missing, MediaType.ociIndex);
    expect(refused.status).toBe(400);
    expect(await errorCode(refused)).toBe("MANIFEST_BLOB_UNKNOWN");
  });

  it("answers a manifest with a subject with OCI-Subject and lists it as a referrer", async () => {
    const subject = await image("subject");
    expect((await put("signed", subject.text)).status).toBe(201);
    const empty = await blob("{}", "application/vnd.oci.empty.v1+json");
    const referrer = JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      artifactType: "application/vnd.example.signature",
      config: empty,
      layers: [],
      subject: { mediaType: MediaType.ociManifest, digest: subject.digest, size: Buffer.byteLength(subject.text) },
    });
    const response = await put(sha256(referrer), referrer);
    expect(response.status).toBe(201);
    expect(response.headers.get("oci-subject")).toBe(subject.digest);
    const referrers = await call("GET", `/v2/${repo}/referrers/${subject.digest}`);
    expect(((await referrers.json()) as { manifests: { digest: string; artifactType: string }[] }).manifests).toEqual([
      expect.objectContaining({ digest: sha256(referrer), artifactType: "application/vnd.example.signature" }),
    ]);
  });

  it("refuses bad manifests with the spec's errors and writes nothing", async () => {
    const unknownBlob = JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha256("never uploaded"), size: 14 },
      layers: [],
    });
    const cases: [string, string, string | undefined, number, string][] = [
      ["unknown blob", unknownBlob, MediaType.ociManifest, 400, "MANIFEST_BLOB_UNKNOWN"],
      ["not JSON", "{not json", MediaType.ociManifest, 400, "MANIFEST_INVALID"],
      ["type mismatch", unknownBlob, MediaType.dockerManifest, 400, "MANIFEST_INVALID"],
      ["unsupported type", unknownBlob, "application/vnd.example+json", 415, "MANIFEST_INVALID"],
      [
        "schemaVersion 1",
        JSON.stringify({ schemaVersion: 1, mediaType: MediaType.ociManifest }),
        MediaType.ociManifest,
        400,
        "MANIFEST_INVALID",
      ],
    ];
    for (const [label, text, type, status, code] of cases) {
      const response = await put("bad", text, type);
      expect(response.status, label).toBe(status);
      expect(await errorCode(response), label).toBe(code);
    }
    const good = await image("digest-check");
    const mismatch = await put(sha256("other"), good.text);
    expect(mismatch.status).toBe(400);
    expect(await errorCode(mismatch)).toBe("DIGEST_INVALID");
    const tooLarge = await call("PUT", `/v2/${repo}/manifests/huge`, {
      body: "x".repeat(4 * 1024 * 1024 + 1),
      headers: { "content-type": MediaType.ociManifest },
    });
    expect(tooLarge.status).toBe(413);
    expect(await tagRows("bad")).toEqual([]);
    expect(await tagRows("huge")).toEqual([]);
  });

  it("refuses moving an immutable tag with TAG_IMMUTABLE", async () => {
    const first = await image("immutable-a");
    expect((await put("pinned", first.text)).status).toBe(201);
    await origin.registry.sql.query(`UPDATE tag SET immutable = true WHERE repository_id = $1 AND name = 'pinned'`, [repoId]);
    const second = await image("immutable-b");
    const response = await put("pinned", second.text);
    expect(response.status).toBe(409);
    expect(await response.json()).toEqual({
      errors: [{ code: "TAG_IMMUTABLE", message: "tag is immutable", detail: { message: "tag 'pinned' is immutable" } }],
    });
  });

  it("requires a push grant", async () => {
    const reader = await origin.token("reader", { [repo]: ["pull"] });
    expect((await put("v9", (await image("denied")).text, MediaType.ociManifest, reader)).status).toBe(401);
  });

  it("lets two clients push the same tag at once and ends with one alive row", async () => {
    const a = await image("race-a");
    const b = await image("race-b");
    const responses = await Promise.all([put("race", a.text), put("race", b.text)]);
    expect(responses.map((r) => r.status)).toEqual([201, 201]);
    const rows = await tagRows("race");
    expect(rows).toHaveLength(2);
    expect(rows.filter((r) => r.end === null)).toHaveLength(1);
  });
});

describe("DELETE", () => {
  it("deletes a tag (the time machine keeps the row) and then answers TAG_EXPIRED", async () => {
    const pushed = await image("delete-tag");
    expect((await put("doomed", pushed.text)).status).toBe(201);
    expect((await call("GET", `/v2/${repo}/manifests/doomed`)).status).toBe(200);
    expect((await call("DELETE", `/v2/${repo}/manifests/doomed`)).status).toBe(202);
    const gone = await call("GET", `/v2/${repo}/manifests/doomed`);
    expect(gone.status).toBe(404);
    expect(await errorCode(gone)).toBe("TAG_EXPIRED");
    expect((await tagRows("doomed"))[0]!.end).not.toBeNull();
    expect((await call("DELETE", `/v2/${repo}/manifests/doomed`)).status).toBe(404);
  });

  it("deletes a manifest by digest by ending every tag on it", async () => {
    const pushed = await image("delete-digest");
    await put("d1", pushed.text);
    await put("d2", pushed.text);
    expect((await call("DELETE", `/v2/${repo}/manifests/${pushed.digest}`)).status).toBe(202);
    for (const tag of ["d1", "d2"]) expect((await call("GET", `/v2/${repo}/manifests/${tag}`)).status).toBe(404);
    expect((await call("GET", `/v2/${repo}/manifests/${pushed.digest}`)).status).toBe(404);
    // Its blobs stay until GC (Quay's rule).
    expect((await call("HEAD", `/v2/${repo}/blobs/${pushed.layer.digest}`)).status).toBe(200);
    const again = await call("DELETE", `/v2/${repo}/manifests/${pushed.digest}`);
    expect(again.status).toBe(404);
    expect(await errorCode(again)).toBe("MANIFEST_UNKNOWN");
  });
});

describe("quota", () => {
  const quotaNs = unique("quota");
  const quotaRepo = `${quotaNs}/app`;
  let quotaApp: ReturnType<typeof createApp>;
  let quotaToken: string;
  let namespaceId: number;

  async function send(method: string, path: string, body?: string, contentType?: string) {
    const headers: Record<string, string> = { authorization: `Bearer ${quotaToken}` };
    if (contentType) headers["content-type"] = contentType;
    return quotaApp.request(`https://${TEST_HOST}${path}`, { method, body: body ?? null, headers });
  }

  async function pushImage(layers: string[]) {
    const config = JSON.stringify({ os: "linux", layers: layers.length });
    const descriptors = [];
    for (const content of [config, ...layers]) {
      expect((await send("POST", `/v2/${quotaRepo}/blobs/uploads/?digest=${sha256(content)}`, content)).status).toBe(201);
      descriptors.push({ mediaType: "application/octet-stream", digest: sha256(content), size: Buffer.byteLength(content) });
    }
    const [configDescriptor, ...layerDescriptors] = descriptors;
    const text = JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociManifest, config: configDescriptor, layers: layerDescriptors });
    return send("PUT", `/v2/${quotaRepo}/manifests/${sha256(text)}`, text, MediaType.ociManifest);
  }

  async function sizes() {
    const { rows } = await origin.registry.sql.query<{ ns: string | null; repo: string | null }>(
      `SELECT (SELECT size_bytes::text FROM quotanamespacesize WHERE namespace_user_id = $1) AS ns,
              (SELECT size_bytes::text FROM quotarepositorysize WHERE repository_id = (SELECT id FROM repository WHERE namespace_user_id = $1 AND name = 'app')) AS repo`,
      [namespaceId],
    );
    return rows[0]!;
  }

  beforeAll(async () => {
    quotaApp = createApp({ ...origin.registry, config: { ...origin.registry.config, quota: { enabled: true, systemRejectBytes: 0 } } });
    namespaceId = await createNamespace(origin.registry, quotaNs, { organization: true });
    await createRepository(origin.registry, namespaceId, "app");
    quotaToken = await origin.token("writer", { [quotaRepo]: ["pull", "push"] });
    const quota = await origin.registry.sql.query<{ id: number }>(
      `INSERT INTO userorganizationquota (namespace_id, limit_bytes) VALUES ($1, 1000) RETURNING id`,
      [namespaceId],
    );
    await origin.registry.sql.query(
      `INSERT INTO quotalimits (quota_id, quota_type_id, percent_of_limit)
       SELECT $1, qt.id, CASE qt.name WHEN 'Warning' THEN 50 ELSE 100 END FROM quotatype qt WHERE qt.name IN ('Warning', 'Reject')`,
      [quota.rows[0]!.id],
    );
  });

  it("keeps namespace and repository sizes over distinct blobs, warns at the soft limit and refuses at the hard one", async () => {
    const layerA = "a".repeat(300);
    const first = await pushImage([layerA]);
    expect(first.status).toBe(201);
    expect(first.headers.get("warning")).toBeNull();
    const firstConfig = Buffer.byteLength(JSON.stringify({ os: "linux", layers: 1 }));
    expect(await sizes()).toEqual({ ns: String(300 + firstConfig), repo: String(300 + firstConfig) });

    // Shares layer A (counted once), adds a 300-byte layer: past 50 % of 1000.
    const second = await pushImage([layerA, "b".repeat(300)]);
    expect(second.status).toBe(201);
    expect(second.headers.get("warning")).toMatch(/^299 - "namespace has reached 50% of its 1000 B quota"$/);
    const secondConfig = Buffer.byteLength(JSON.stringify({ os: "linux", layers: 2 }));
    const afterSecond = 600 + firstConfig + secondConfig;
    expect(await sizes()).toEqual({ ns: String(afterSecond), repo: String(afterSecond) });

    // Each 200-byte blob fits on its own (size + upload < 1000), the manifest with both does not.
    const refused = await pushImage(["c".repeat(200), "d".repeat(200)]);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toEqual({ errors: [{ code: "DENIED", message: "Quota has been exceeded on namespace", detail: {} }] });
    expect(await sizes()).toEqual({ ns: String(afterSecond), repo: String(afterSecond) });
    // A single blob that would cross the limit is refused when its upload completes.
    const big = "e".repeat(400);
    const upload = await send("POST", `/v2/${quotaRepo}/blobs/uploads/?digest=${sha256(big)}`, big);
    expect(upload.status).toBe(403);
  });

  it("refuses new uploads while the namespace is at its hard limit", async () => {
    await origin.registry.sql.query(`UPDATE quotanamespacesize SET size_bytes = 1000 WHERE namespace_user_id = $1`, [namespaceId]);
    const response = await send("POST", `/v2/${quotaRepo}/blobs/uploads/`);
    expect(response.status).toBe(403);
    expect(((await response.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe("DENIED");
  });
});

describe("repository creation and audit log", () => {
  it("creates a missing repository on the first push, private with the pusher as admin, and logs it", async () => {
    const user = unique("owner");
    const userId = await createNamespace(origin.registry, user);
    const target = `${user}/fresh`;
    const token = await origin.token(user, { [target]: ["pull", "push"] });
    const content = "first layer of a new repository";
    const upload = await app.request(`https://${TEST_HOST}/v2/${target}/blobs/uploads/?digest=${sha256(content)}`, {
      method: "POST",
      body: content,
      headers: { authorization: `Bearer ${token}`, "user-agent": "pier-test/1.0" },
    });
    expect(upload.status).toBe(201);
    const { rows } = await origin.registry.sql.query<{ visibility: string; role: string; user_id: number }>(
      `SELECT v.name AS visibility, ro.name AS role, rp.user_id FROM repository r
       JOIN visibility v ON v.id = r.visibility_id
       JOIN repositorypermission rp ON rp.repository_id = r.id JOIN role ro ON ro.id = rp.role_id
       WHERE r.namespace_user_id = $1 AND r.name = 'fresh'`,
      [userId],
    );
    expect(rows).toEqual([{ visibility: "private", role: "admin", user_id: userId }]);

    const config = JSON.stringify({ os: "linux" });
    await app.request(`https://${TEST_HOST}/v2/${target}/blobs/uploads/?digest=${sha256(config)}`, {
      method: "POST",
      body: config,
      headers: { authorization: `Bearer ${token}` },
    });
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha256(config), size: Buffer.byteLength(config) },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: sha256(content), size: Buffer.byteLength(content) }],
    });
    const pushed = await app.request(`https://${TEST_HOST}/v2/${target}/manifests/latest`, {
      method: "PUT",
      body: manifest,
      headers: { authorization: `Bearer ${token}`, "content-type": MediaType.ociManifest, "user-agent": "pier-test/1.0" },
    });
    expect(pushed.status).toBe(201);
    expect(
      (
        await app.request(`https://${TEST_HOST}/v2/${target}/manifests/latest`, {
          method: "DELETE",
          headers: { authorization: `Bearer ${token}` },
        })
      ).status,
    ).toBe(202);

    const log = await origin.registry.sql.query<{ kind: string; account_id: number; performer_id: number; metadata_json: string }>(
      `SELECT k.name AS kind, l.account_id, l.performer_id, l.metadata_json FROM logentry3 l JOIN logentrykind k ON k.id = l.kind_id
       WHERE l.repository_id = (SELECT id FROM repository WHERE namespace_user_id = $1 AND name = 'fresh') ORDER BY l.id`,
      [userId],
    );
    expect(log.rows.map((r) => [r.kind, r.account_id, r.performer_id])).toEqual([
      ["create_repo", userId, userId],
      ["push_repo", userId, userId],
      ["delete_tag", userId, userId],
    ]);
    expect(JSON.parse(log.rows[1]!.metadata_json)).toEqual({
      repo: "fresh",
      namespace: user,
      "user-agent": "pier-test/1.0",
      username: user,
      tag: "latest",
      manifest_digest: sha256(manifest),
    });
    expect(log.rows[1]!.metadata_json).toMatch(/^\{"repo": "fresh", "namespace": /);
    expect(JSON.parse(log.rows[2]!.metadata_json)).toMatchObject({ tag: "latest", digest: sha256(manifest) });
  });
});
