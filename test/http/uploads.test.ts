/**
 * Blob uploads through the origin's app on real PostgreSQL, Redis and the verifying S3
 * server: every flow and error of the OCI upload API, the rows and objects Quay would
 * have, and the bytes read back through the pull path.
 */
import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureUser } from "../../src/core/accounts.js";
import { blobKey } from "../../src/core/storage-layout.js";
import { createApp } from "../../src/http/app.js";
import { startPushScene, TEST_HOST, type OriginFixture, type PushScene, type RequestInitLike } from "../support/origin-registry.js";
import { createRepository, storeImage, unique } from "../support/quay-seed.js";
import { seededBytes, sha256Hex } from "../suites/blob-store.js";

let scene: PushScene;
let origin: OriginFixture;
let namespace: string;
let repo: string;
let repoId: number;

function digestOf(bytes: Uint8Array | string, algorithm = "sha256"): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest("hex")}`;
}

function call(method: string, path: string, init?: RequestInitLike): Promise<Response> {
  return scene.call(method, path, init);
}

async function rowsFor(digest: string) {
  const { rows } = await origin.registry.sql.query<{
    image_size: string;
    cas_path: boolean;
    uploading: boolean;
    placements: number;
    links: number;
  }>(
    `SELECT s.image_size::text AS image_size, s.cas_path, s.uploading,
            (SELECT count(*)::int FROM imagestorageplacement p WHERE p.storage_id = s.id) AS placements,
            (SELECT count(*)::int FROM uploadedblob u WHERE u.blob_id = s.id AND u.repository_id = $2) AS links
     FROM imagestorage s WHERE s.content_checksum = $1`,
    [digest, repoId],
  );
  return rows;
}

beforeAll(async () => {
  scene = await startPushScene("uploads");
  ({ origin, namespace, repo, repoId } = scene);
}, 60_000);
afterAll(() => origin?.close());

describe("monolithic and chunked uploads", () => {
  it("stores a monolithic POST under Quay's key with Quay's rows, readable through the pull path", async () => {
    const bytes = new TextEncoder().encode("monolithic blob bytes");
    const digest = digestOf(bytes);
    const response = await call("POST", `/v2/${repo}/blobs/uploads/?digest=${digest}`, {
      body: bytes,
      headers: { "content-type": "application/octet-stream" },
    });
    expect(response.status).toBe(201);
    expect(response.headers.get("location")).toBe(`https://${TEST_HOST}/v2/${repo}/blobs/${digest}`);
    expect(response.headers.get("docker-content-digest")).toBe(digest);
    expect(await origin.registry.blobs.stat(blobKey(digest)!)).toEqual({ size: bytes.byteLength });
    expect(await rowsFor(digest)).toEqual([
      { image_size: String(bytes.byteLength), cas_path: true, uploading: false, placements: 1, links: 1 },
    ]);

    const head = await call("HEAD", `/v2/${repo}/blobs/${digest}`);
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(bytes.byteLength));
    const redirect = await call("GET", `/v2/${repo}/blobs/${digest}`, { headers: {} });
    expect(redirect.status).toBe(302);
    expect(await (await fetch(redirect.headers.get("location")!)).text()).toBe("monolithic blob bytes");
  });

  it("runs a chunked session: POST, PATCHes with Content-Range, status, out-of-order 416, PUT", async () => {
    const start = await call("POST", `/v2/${repo}/blobs/uploads/`);
    expect(start.status).toBe(202);
    const uuid = start.headers.get("docker-upload-uuid")!;
    expect(start.headers.get("location")).toBe(`https://${TEST_HOST}/v2/${repo}/blobs/uploads/${uuid}`);
    expect(start.headers.has("range")).toBe(false);

    const first = new Uint8Array(100).fill(1);
    const second = new Uint8Array(50).fill(2);
    const patched = await call("PATCH", start.headers.get("location")!, { body: first, headers: { "content-range": "0-99" } });
    expect(patched.status).toBe(202);
    expect(patched.headers.get("range")).toBe("0-99");

    const skipped = await call("PATCH", patched.headers.get("location")!, { body: second, headers: { "content-range": "200-249" } });
    expect(skipped.status).toBe(416);
    expect(skipped.headers.get("range")).toBe("0-99");

    expect(
      (await call("PATCH", patched.headers.get("location")!, { body: second, headers: { "content-range": "bytes 100-149" } })).status,
    ).toBe(202);
    const status = await call("GET", `/v2/${repo}/blobs/uploads/${uuid}`);
    expect(status.status).toBe(204);
    expect(status.headers.get("range")).toBe("0-149");

    const whole = new Uint8Array([...first, ...second]);
    const done = await call("PUT", `/v2/${repo}/blobs/uploads/${uuid}?digest=${digestOf(whole)}`);
    expect(done.status).toBe(201);
    expect(done.headers.get("docker-content-digest")).toBe(digestOf(whole));
    const stored = await origin.registry.blobs.get(blobKey(digestOf(whole))!);
    expect(await sha256Hex(stored!.body)).toBe(digestOf(whole).slice(7));
    // The session and its chunk objects are gone.
    expect((await call("GET", `/v2/${repo}/blobs/uploads/${uuid}`)).status).toBe(404);
    expect((await origin.registry.blobs.list("uploads/")).keys).toEqual([]);
  });

  it("streams a 20 MiB chunk of unknown length (chunked transfer) and a final chunk in the PUT", async () => {
    const size = 20 * 1024 * 1024;
    const expected = `sha256:${await sha256Hex(seededBytes(7, 0, size + 1000))}`;
    const start = await call("POST", `/v2/${repo}/blobs/uploads/`);
    const patched = await call("PATCH", start.headers.get("location")!, { body: seededBytes(7, 0, size) });
    expect(patched.status).toBe(202);
    expect(patched.headers.get("range")).toBe(`0-${size - 1}`);
    const done = await call("PUT", `${patched.headers.get("location")!}?digest=${expected}`, {
      body: seededBytes(7, size, 1000),
      headers: { "content-length": "1000" },
    });
    expect(done.status).toBe(201);
    expect((await origin.registry.blobs.stat(blobKey(expected)!))?.size).toBe(size + 1000);
  }, 60_000);

  it("accepts sha512 digests", async () => {
    const bytes = new TextEncoder().encode("sha512 content");
    const digest = digestOf(bytes, "sha512");
    const response = await call("POST", `/v2/${repo}/blobs/uploads/?digest=${digest}`, { body: bytes });
    expect(response.status).toBe(201);
    expect(await origin.registry.blobs.stat(blobKey(digest)!)).toEqual({ size: bytes.byteLength });
  });
});

describe("sha512 uploads", () => {
  async function metadataOf(uuid: string): Promise<string> {
    const { rows } = await origin.registry.sql.query<{ storage_metadata: string }>(
      `SELECT storage_metadata FROM blobupload WHERE uuid = $1`,
      [uuid],
    );
    return rows[0]!.storage_metadata;
  }

  it("stores a monolithic sha512 POST under sha512/<2 hex>/<hex> with the checksum in Quay's columns", async () => {
    const bytes = new Uint8Array(randomBytes(70_000));
    const digest = digestOf(bytes, "sha512");
    const response = await call("POST", `/v2/${repo}/blobs/uploads/?digest=${digest}`, { body: bytes });
    expect(response.status).toBe(201);
    expect(response.headers.get("docker-content-digest")).toBe(digest);
    const hex = digest.slice("sha512:".length);
    expect(blobKey(digest)).toBe(`sha512/${hex.slice(0, 2)}/${hex}`);
    expect(await origin.registry.blobs.stat(`sha512/${hex.slice(0, 2)}/${hex}`)).toEqual({ size: bytes.byteLength });
    expect(await rowsFor(digest)).toEqual([{ image_size: "70000", cas_path: true, uploading: false, placements: 1, links: 1 }]);
    const head = await call("HEAD", `/v2/${repo}/blobs/${digest}`);
    expect(head.status).toBe(200);
    expect(head.headers.get("docker-content-digest")).toBe(digest);
    const redirect = await call("GET", `/v2/${repo}/blobs/${digest}`);
    const read = new Uint8Array(await (await fetch(redirect.headers.get("location")!)).arrayBuffer());
    expect(digestOf(read, "sha512")).toBe(digest);
  });

  it("finishes a chunked session with a sha512 digest, declared on the POST or only on the PUT", async () => {
    const first = new Uint8Array(randomBytes(40_000));
    const last = new Uint8Array(randomBytes(1_000));
    const digest = digestOf(new Uint8Array([...first, ...last]), "sha512");
    for (const query of ["?digest-algorithm=sha512", ""]) {
      const start = await call("POST", `/v2/${repo}/blobs/uploads/${query}`);
      expect(start.status).toBe(202);
      const uuid = start.headers.get("docker-upload-uuid")!;
      expect(JSON.parse(await metadataOf(uuid))).toEqual(query ? { chunks: [], digest_algorithm: "sha512" } : { chunks: [] });
      const patched = await call("PATCH", start.headers.get("location")!, { body: first, headers: { "content-range": "0-39999" } });
      expect(patched.status).toBe(202);
      if (query) expect(JSON.parse(await metadataOf(uuid)).digest_algorithm).toBe("sha512");
      const done = await call("PUT", `${patched.headers.get("location")!}?digest=${digest}`, { body: last });
      expect(done.status).toBe(201);
      expect(done.headers.get("docker-content-digest")).toBe(digest);
    }
    expect(await origin.registry.blobs.stat(blobKey(digest)!)).toEqual({ size: 41_000 });
    expect(await rowsFor(digest)).toEqual([{ image_size: "41000", cas_path: true, uploading: false, placements: 1, links: 2 }]);
  });

  it("hashes sha512 while the bytes stream when it is known in time, and reads the chunks a second time only when named last", async () => {
    // The registry's own store, with the keys it reads logged.
    const reads: string[] = [];
    const store = origin.registry.blobs;
    const logged = Object.assign(Object.create(store) as typeof store, {
      get: (key: string, range?: Parameters<typeof store.get>[1]) => (reads.push(key), store.get(key, range)),
    });
    const app = createApp({ ...origin.registry, blobs: logged });
    const send = (method: string, path: string, body?: Uint8Array) =>
      app.request(path.startsWith("http") ? path : `https://${TEST_HOST}${path}`, {
        method,
        body: (body as Uint8Array<ArrayBuffer> | undefined) ?? null,
        headers: { authorization: `Bearer ${scene.writer}` },
      });
    /** How often each chunk object was read: once to assemble the blob, twice when also hashed afterwards. */
    const readsPerChunk = () => {
      const counts = new Map<string, number>();
      for (const key of reads.filter((k) => k.startsWith("uploads/"))) counts.set(key, (counts.get(key) ?? 0) + 1);
      return [...new Set(counts.values())];
    };

    const whole = new Uint8Array(randomBytes(30_000));
    expect((await send("POST", `/v2/${repo}/blobs/uploads/?digest=${digestOf(whole, "sha512")}`, whole)).status).toBe(201);
    expect(reads).toEqual([]);

    for (const [query, expectedReads] of [
      ["?digest-algorithm=sha512", 1],
      ["", 2],
    ] as const) {
      reads.length = 0;
      const bytes = new Uint8Array(randomBytes(30_000));
      const start = await send("POST", `/v2/${repo}/blobs/uploads/${query}`);
      const patched = await send("PATCH", start.headers.get("location")!, bytes.subarray(0, 20_000));
      const done = await send("PUT", `${patched.headers.get("location")!}?digest=${digestOf(bytes, "sha512")}`, bytes.subarray(20_000));
      expect(done.status).toBe(201);
      expect([query, readsPerChunk()]).toEqual([query, [expectedReads]]);
    }
  });

  it("takes the sha512 of a POST-then-PUT body, and refuses a wrong one with DIGEST_INVALID, storing nothing", async () => {
    const bytes = new TextEncoder().encode("put with body");
    const start = await call("POST", `/v2/${repo}/blobs/uploads/`);
    const done = await call("PUT", `${start.headers.get("location")!}?digest=${digestOf(bytes, "sha512")}`, { body: bytes });
    expect(done.status).toBe(201);

    const wrong = digestOf("other bytes", "sha512");
    for (const query of ["?digest-algorithm=sha512", ""]) {
      const session = await call("POST", `/v2/${repo}/blobs/uploads/${query}`);
      await call("PATCH", session.headers.get("location")!, { body: "these bytes" });
      const refused = await call("PUT", `${session.headers.get("location")!}?digest=${wrong}`);
      expect(refused.status).toBe(400);
      expect(((await refused.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe("DIGEST_INVALID");
    }
    const monolithic = await call("POST", `/v2/${repo}/blobs/uploads/?digest=${wrong}`, { body: "these bytes" });
    expect(monolithic.status).toBe(400);
    expect(await rowsFor(wrong)).toEqual([]);
    expect(await origin.registry.blobs.stat(blobKey(wrong)!)).toBeNull();
    expect(await origin.registry.blobs.stat(blobKey(digestOf("these bytes", "sha512"))!)).toBeNull();
  });

  it("mounts a sha512 blob from another repository", async () => {
    const ns = (await origin.registry.sql.query<{ id: number }>(`SELECT id FROM "user" WHERE username = $1`, [namespace])).rows[0]!.id;
    await createRepository(origin.registry, ns, "source512", { visibility: "private" });
    const source = `${namespace}/source512`;
    const token = await origin.token("writer", { [repo]: ["pull", "push"], [source]: ["pull", "push"] });
    const bytes = new Uint8Array(randomBytes(3_000));
    const digest = digestOf(bytes, "sha512");
    expect((await call("POST", `/v2/${source}/blobs/uploads/?digest=${digest}`, { body: bytes, token })).status).toBe(201);

    const mounted = await call("POST", `/v2/${repo}/blobs/uploads/?mount=${digest}&from=${source}`, { token });
    expect(mounted.status).toBe(201);
    expect(mounted.headers.get("docker-content-digest")).toBe(digest);
    expect(mounted.headers.get("location")).toBe(`https://${TEST_HOST}/v2/${repo}/blobs/${digest}`);
    const head = await call("HEAD", `/v2/${repo}/blobs/${digest}`);
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe("3000");
    expect(await rowsFor(digest)).toEqual([{ image_size: "3000", cas_path: true, uploading: false, placements: 1, links: 1 }]);
  });

  it("refuses malformed digests of either algorithm and unknown algorithms with DIGEST_INVALID", async () => {
    const sha256Hex = createHash("sha256").update("x").digest("hex");
    const sha512Hex = createHash("sha512").update("x").digest("hex");
    const malformed = [
      `sha512:${sha512Hex.toUpperCase()}`,
      `sha512:${sha256Hex}`,
      `sha512:${sha512Hex.slice(1)}`,
      `sha256:${sha256Hex.toUpperCase()}`,
      `sha256:${sha512Hex}`,
      `md5:${createHash("md5").update("x").digest("hex")}`,
      `sha384:${createHash("sha384").update("x").digest("hex")}`,
    ];
    for (const digest of malformed) {
      const monolithic = await call("POST", `/v2/${repo}/blobs/uploads/?digest=${digest}`, { body: "x" });
      expect([digest, monolithic.status]).toEqual([digest, 400]);
      expect(((await monolithic.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe("DIGEST_INVALID");
      const start = await call("POST", `/v2/${repo}/blobs/uploads/`);
      const put = await call("PUT", `${start.headers.get("location")!}?digest=${digest}`, { body: "x" });
      expect([digest, put.status]).toEqual([digest, 400]);
      expect(((await put.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe("DIGEST_INVALID");
    }
    const unknown = await call("POST", `/v2/${repo}/blobs/uploads/?digest-algorithm=md5`);
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe("DIGEST_INVALID");
    expect((await origin.registry.blobs.list("sha384/")).keys).toEqual([]);
    expect((await origin.registry.blobs.list("md5/")).keys).toEqual([]);
  });
});

describe("upload errors", () => {
  it("refuses a digest mismatch with DIGEST_INVALID and stores nothing", async () => {
    const wrong = digestOf("something else");
    const start = await call("POST", `/v2/${repo}/blobs/uploads/`);
    const response = await call("PUT", `${start.headers.get("location")!}?digest=${wrong}`, { body: "actual bytes" });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe("DIGEST_INVALID");
    expect(await rowsFor(wrong)).toEqual([]);
    expect(await origin.registry.blobs.stat(blobKey(wrong)!)).toBeNull();
    expect(await origin.registry.blobs.stat(blobKey(digestOf("actual bytes"))!)).toBeNull();
    expect((await call("GET", start.headers.get("location")!)).status).toBe(404);
  });

  it("needs the digest to finish, and a session of this repository", async () => {
    const start = await call("POST", `/v2/${repo}/blobs/uploads/`);
    const missing = await call("PUT", start.headers.get("location")!);
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe("BLOB_UPLOAD_INVALID");

    const otherRepo = `${namespace}/other`;
    await createRepository(
      origin.registry,
      (await origin.registry.sql.query<{ id: number }>(`SELECT id FROM "user" WHERE username = $1`, [namespace])).rows[0]!.id,
      "other",
    );
    const otherToken = await origin.token("writer", { [otherRepo]: ["pull", "push"] });
    const uuid = start.headers.get("docker-upload-uuid")!;
    const foreign = await call("PATCH", `/v2/${otherRepo}/blobs/uploads/${uuid}`, { body: "x", token: otherToken });
    expect(foreign.status).toBe(404);
    expect(((await foreign.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe("BLOB_UPLOAD_UNKNOWN");
    expect((await call("PATCH", `/v2/${repo}/blobs/uploads/not-a-uuid`, { body: "x" })).status).toBe(404);
  });

  it("cancels a session with DELETE", async () => {
    const start = await call("POST", `/v2/${repo}/blobs/uploads/`);
    await call("PATCH", start.headers.get("location")!, { body: "partial" });
    expect((await call("DELETE", start.headers.get("location")!)).status).toBe(204);
    expect((await call("PATCH", start.headers.get("location")!, { body: "more" })).status).toBe(404);
    expect((await origin.registry.blobs.list("uploads/")).keys).toEqual([]);
  });

  it("rejects a malformed Content-Range and a Content-Length the body does not match", async () => {
    const start = await call("POST", `/v2/${repo}/blobs/uploads/`);
    const bad = await call("PATCH", start.headers.get("location")!, { body: "abc", headers: { "content-range": "zero-two" } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe("INVALID_REQUEST");
    const long = await call("PATCH", start.headers.get("location")!, { body: "abc", headers: { "content-length": "2" } });
    expect(long.status).toBe(400);
    expect(((await long.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe("SIZE_INVALID");
    expect((await call("GET", start.headers.get("location")!)).headers.get("range")).toBeNull();
  });

  it("refuses a Content-Range that ends past the body with 416, counting none of it", async () => {
    const start = await call("POST", `/v2/${repo}/blobs/uploads/`);
    expect(start.headers.has("range")).toBe(false);
    const short = await call("PATCH", start.headers.get("location")!, { body: "abc", headers: { "content-range": "0-9" } });
    expect(short.status).toBe(416);
    expect(short.headers.get("location")).toBe(start.headers.get("location"));
    expect(short.headers.has("range")).toBe(false);
    const status = await call("GET", start.headers.get("location")!);
    expect(status.status).toBe(204);
    expect(status.headers.has("range")).toBe(false);
    expect((await origin.registry.blobs.list("uploads/")).keys).toEqual([]);

    const honest = await call("PATCH", start.headers.get("location")!, { body: "abc", headers: { "content-range": "0-2" } });
    expect(honest.status).toBe(202);
    expect(honest.headers.get("range")).toBe("0-2");
    const done = await call("PUT", `${honest.headers.get("location")!}?digest=${digestOf("abc")}`);
    expect(done.status).toBe(201);
  });

  it("requires a push grant: pull-only and anonymous callers get the pull,push challenge", async () => {
    const reader = await origin.token("reader", { [repo]: ["pull"] });
    for (const token of [reader, null]) {
      const response = await call("POST", `/v2/${repo}/blobs/uploads/`, { token });
      expect(response.status).toBe(401);
      expect(response.headers.get("www-authenticate")).toBe(
        `Bearer realm="https://${TEST_HOST}/v2/auth",service="${TEST_HOST}",scope="repository:${repo}:pull,push"`,
      );
    }
    expect((await call("DELETE", `/v2/${repo}/blobs/${digestOf("x")}`, { token: reader })).status).toBe(401);
  });
});

describe("cross-repository mount", () => {
  it("mounts from a repository the caller can read, and falls back to a session otherwise", async () => {
    const ns = (await origin.registry.sql.query<{ id: number }>(`SELECT id FROM "user" WHERE username = $1`, [namespace])).rows[0]!.id;
    const sourceId = await createRepository(origin.registry, ns, "source", { visibility: "private" });
    const image = await storeImage(origin.registry, sourceId, { layerSizes: [64] });
    const layer = image.layers[0]!;
    const granted = await origin.token("writer", { [repo]: ["pull", "push"], [`${namespace}/source`]: ["pull"] });

    const denied = await call("POST", `/v2/${repo}/blobs/uploads/?mount=${layer.digest}&from=${namespace}/source`);
    expect(denied.status).toBe(202);
    expect((await call("HEAD", `/v2/${repo}/blobs/${layer.digest}`)).status).toBe(404);

    const mounted = await call("POST", `/v2/${repo}/blobs/uploads/?mount=${layer.digest}&from=${namespace}/source`, { token: granted });
    expect(mounted.status).toBe(201);
    expect(mounted.headers.get("docker-content-digest")).toBe(layer.digest);
    expect((await call("HEAD", `/v2/${repo}/blobs/${layer.digest}`)).status).toBe(200);
  });

  it("challenges a mount for the source's pull too, so a client with Basic credentials gets a token that mounts (201)", async () => {
    const { sql, clock } = origin.registry;
    const user = unique("mounter");
    const password = `pw-${crypto.randomUUID()}`;
    await ensureUser(sql, clock, { username: user, email: `${user}@users.test`, password, removedTagExpirationSeconds: 1_209_600 });
    const userId = (await sql.query<{ id: number }>(`SELECT id FROM "user" WHERE username = $1`, [user])).rows[0]!.id;
    const sourceId = await createRepository(origin.registry, userId, "base", { visibility: "private" });
    const layer = (await storeImage(origin.registry, sourceId, { layerSizes: [64] })).layers[0]!;
    const mountPath = `/v2/${user}/app/blobs/uploads/?mount=${layer.digest}&from=${user}/base`;

    const challenged = await call("POST", mountPath, { token: null });
    expect(challenged.status).toBe(401);
    const challenge = challenged.headers.get("www-authenticate")!;
    expect(challenge).toBe(
      `Bearer realm="https://${TEST_HOST}/v2/auth",service="${TEST_HOST}",scope="repository:${user}/app:pull,push repository:${user}/base:pull"`,
    );

    // What clients do with the challenge: one scope parameter per space-separated scope, or
    // (some) the whole value in one parameter.
    const challengeScope = /scope="([^"]*)"/.exec(challenge)![1]!;
    const tokens: string[] = [];
    for (const scopes of [challengeScope.split(" "), [challengeScope]]) {
      const query = new URLSearchParams([["service", TEST_HOST], ...scopes.map((scope): [string, string] => ["scope", scope])]);
      const auth = await scene.app.request(`https://${TEST_HOST}/v2/auth?${query}`, {
        headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}` },
      });
      expect(auth.status).toBe(200);
      tokens.push(((await auth.json()) as { token: string }).token);
    }

    for (const token of tokens) {
      const mounted = await call("POST", mountPath, { token });
      expect(mounted.status).toBe(201);
      expect(mounted.headers.get("docker-content-digest")).toBe(layer.digest);
    }
    const token = tokens[0]!;
    expect((await call("HEAD", `/v2/${user}/app/blobs/${layer.digest}`, { token })).status).toBe(200);
  });
});

describe("concurrency and abandoned uploads", () => {
  it("two clients pushing the same blob at once end with one storage row", async () => {
    const bytes = new TextEncoder().encode("the same blob twice");
    const digest = digestOf(bytes);
    const responses = await Promise.all([0, 1].map(() => call("POST", `/v2/${repo}/blobs/uploads/?digest=${digest}`, { body: bytes })));
    expect(responses.map((r) => r.status)).toEqual([201, 201]);
    const rows = await rowsFor(digest);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.placements).toBe(1);
  });

  it("a client that disconnects mid-chunk leaves the session where it was and no blob", async () => {
    const start = await call("POST", `/v2/${repo}/blobs/uploads/`);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 3) return controller.error(new Error("client went away"));
        sent++;
        controller.enqueue(new Uint8Array(64 * 1024).fill(sent));
      },
    });
    const aborted = await call("PATCH", start.headers.get("location")!, { body, headers: { "content-length": String(1024 * 1024) } }).catch(
      (e: unknown) => e,
    );
    expect(aborted instanceof Response ? aborted.status : 0).not.toBe(202);
    expect((await call("GET", start.headers.get("location")!)).headers.has("range")).toBe(false);
    expect((await origin.registry.blobs.list("uploads/")).keys).toEqual([]);
  });
});
