/**
 * Pulls with the real skopeo from the bundled edge Worker: Miniflare serving HTTPS in
 * front of the local gateway stack (Neon HTTP and WebSocket, Upstash REST, verifying
 * S3), anonymous tokens from the edge's own /v2/auth, content seeded the way Quay
 * stores it. Every byte skopeo writes is checked against the seeded digests.
 */
import { createHash, KeyObject } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { s3BlobStore } from "../../src/adapters/blob/s3.js";
import { nodePostgresSql } from "../../src/adapters/sql/node-postgres.js";
import { createInstanceKey } from "../../src/core/auth/service-keys.js";
import { loadS3Settings } from "../../src/core/config.js";
import { MediaType } from "../../src/core/model/media-types.js";
import { systemClock } from "../../src/core/ports/clock.js";
import { startEdgeServer, type EdgeServer } from "../support/edge-server.js";
import { hermeticClients, type HermeticClients } from "../support/hermetic-clients.js";
import { startLocalStack, type LocalStack } from "../support/gateways.js";
import { seedPullFixture, type PullFixture } from "../support/pull-fixture.js";
import type { SeededImage } from "../support/quay-seed.js";

const SKOPEO_TIMEOUT_MS = 60_000;

let stack: LocalStack;
let edge: EdgeServer;
let fx: PullFixture;
let work: string;
let clients: HermeticClients;

beforeAll(async () => {
  stack = await startLocalStack("edgepull");
  const sql = nodePostgresSql(stack.bindings.DATABASE_URL);
  let signingKey: string;
  try {
    fx = await seedPullFixture({ sql, blobs: s3BlobStore(loadS3Settings({ ...stack.bindings })!) }, Date.now());
    const key = await createInstanceKey(sql, systemClock, "pier-e2e-edge");
    // The instance key is a non-extractable Web Crypto key (exportJWK refuses it);
    // Node's KeyObject still reads it, which is all a test needs to hand it to the edge.
    const jwk = KeyObject.from(key.signing.privateKey as CryptoKey).export({ format: "jwk" });
    signingKey = JSON.stringify({ ...jwk, kid: key.signing.kid, alg: key.signing.alg });
  } finally {
    await sql.close();
  }
  edge = await startEdgeServer({
    bindings: (host) => ({ ...stack.bindings, PIER_SIGNING_KEY: signingKey, PIER_SERVER_HOSTNAME: host }),
  });

  work = await mkdtemp(join(tmpdir(), "pier-skopeo-"));
  clients = await hermeticClients(work);
}, 60_000);

afterAll(async () => {
  await edge?.close();
  await stack?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

function skopeo(globalArgs: readonly string[], command: string, args: readonly string[]): Promise<string> {
  return clients.skopeo(command, args, { globalArgs, timeoutMs: SKOPEO_TIMEOUT_MS });
}

const ref = (repository: string, tag: string) => `docker://${edge.host}/${repository}:${tag}`;

/** A small response over the edge's self-signed HTTPS. */
function get(path: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const request = https.get(
      `${edge.url}${path}`,
      { rejectUnauthorized: false, headers: { accept: Object.values(MediaType).join(", ") } },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => resolve({ status: response.statusCode!, headers: response.headers, body: Buffer.concat(chunks) }));
        response.on("error", reject);
      },
    );
    request.on("error", reject);
  });
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  await pipeline(createReadStream(path), hash);
  return `sha256:${hash.digest("hex")}`;
}

const sha256 = (bytes: Buffer) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
const hex = (digest: string) => digest.slice("sha256:".length);
const blobsOf = (...images: SeededImage[]) =>
  images.flatMap((image) => [image.config.digest, ...image.layers.map((layer) => layer.digest)]);

/**
 * A `dir:` copy holds exactly: `manifest.json` (the pulled manifest's bytes), one
 * `<hex>.manifest.json` per copied list instance, and one file per blob named by its
 * digest's hex; each must hash to its name and the set must be exactly `blobs`.
 */
async function expectDirCopy(dir: string, manifest: string, blobs: readonly string[], instances: readonly string[] = []): Promise<void> {
  expect(sha256(await readFile(join(dir, "manifest.json")))).toBe(manifest);
  for (const instance of instances) expect(sha256(await readFile(join(dir, `${hex(instance)}.manifest.json`)))).toBe(instance);
  const files = (await readdir(dir)).filter((name) => name !== "version" && !name.endsWith("manifest.json"));
  expect(files.sort()).toEqual(blobs.map(hex).sort());
  for (const name of files) expect(await sha256File(join(dir, name))).toBe(`sha256:${name}`);
  expect((await readdir(dir)).filter((name) => name.endsWith("manifest.json")).sort()).toEqual(
    ["manifest.json", ...instances.map((digest) => `${hex(digest)}.manifest.json`)].sort(),
  );
}

describe("edge server harness", () => {
  it("serves /v2/ over HTTPS with a bearer challenge naming its own token endpoint", async () => {
    const response = await get("/v2/");
    expect(response.status).toBe(401);
    expect(response.headers["docker-distribution-api-version"]).toBe("registry/2.0");
    expect(response.headers["www-authenticate"]).toBe(`Bearer realm="${edge.url}/v2/auth",service="${edge.host}"`);
  });

  it("serves a public manifest anonymously with its stored bytes", async () => {
    const response = await get(`/v2/${fx.app}/manifests/v1`);
    expect(response.status).toBe(200);
    expect(response.headers["docker-content-digest"]).toBe(fx.oci.manifest.digest);
    expect(response.body.toString()).toBe(fx.oci.manifest.text);
  });

  it("issues an anonymous pull token for its own host from PIER_SIGNING_KEY", async () => {
    const response = await get(`/v2/auth?service=${edge.host}&scope=repository:${fx.app}:pull`);
    expect(response.status).toBe(200);
    const claims = decodeJwt((JSON.parse(response.body.toString()) as { token: string }).token);
    expect(claims.aud).toBe(edge.host);
    expect(claims.access).toEqual([{ type: "repository", name: fx.app, actions: ["pull"] }]);
  });
});

describe("skopeo against the edge", () => {
  it("inspects raw manifests byte for byte, and is refused a private repository", async () => {
    expect(await skopeo([], "inspect", ["--tls-verify=false", "--raw", ref(fx.app, "v1")])).toBe(fx.oci.manifest.text);
    expect(await skopeo([], "inspect", ["--tls-verify=false", "--raw", ref(fx.app, "multi")])).toBe(fx.index.text);
    await expect(skopeo([], "inspect", ["--tls-verify=false", "--raw", ref(fx.secret, "v1")])).rejects.toThrow(
      /unauthorized|authentication required/i,
    );
  });

  // `dir:` keeps every byte as served; `oci:` would gzip the fixture's layers (random
  // bytes under a tar+gzip media type) and so rewrite the manifest.
  it(
    "copies the OCI image unchanged",
    async () => {
      const dir = join(work, "oci-v1");
      await skopeo([], "copy", ["--src-tls-verify=false", ref(fx.app, "v1"), `dir:${dir}`]);
      await expectDirCopy(dir, fx.oci.manifest.digest, blobsOf(fx.oci));
    },
    SKOPEO_TIMEOUT_MS,
  );

  it(
    "copies the Docker schema2 image unchanged",
    async () => {
      const dir = join(work, "docker");
      await skopeo([], "copy", ["--src-tls-verify=false", ref(fx.app, "docker"), `dir:${dir}`]);
      await expectDirCopy(dir, fx.docker.manifest.digest, blobsOf(fx.docker));
    },
    SKOPEO_TIMEOUT_MS,
  );

  it(
    "copies a multi-arch OCI index with all its platforms",
    async () => {
      const dir = join(work, "multi-all");
      await skopeo([], "copy", ["--src-tls-verify=false", "--multi-arch", "all", ref(fx.app, "multi"), `dir:${dir}`]);
      await expectDirCopy(dir, fx.index.digest, blobsOf(fx.arm64, fx.amd64), [fx.arm64.manifest.digest, fx.amd64.manifest.digest]);
    },
    SKOPEO_TIMEOUT_MS,
  );

  it(
    "copies one platform of the index (linux/arm64)",
    async () => {
      const dir = join(work, "multi-arm64");
      await skopeo(["--override-arch", "arm64", "--override-os", "linux"], "copy", [
        "--src-tls-verify=false",
        ref(fx.app, "multi"),
        `dir:${dir}`,
      ]);
      await expectDirCopy(dir, fx.arm64.manifest.digest, blobsOf(fx.arm64));
    },
    SKOPEO_TIMEOUT_MS,
  );
});

describe("the edge under concurrent requests", () => {
  it("answers concurrent cold lookups of the same keys from separate requests without hanging or failing", async () => {
    // Keys no earlier test touched: every request misses at once, and all but one wait for the first.
    const paths = [`/v2/${fx.many}/tags/list`, `/v2/${fx.frozen}/manifests/v1`, `/v2/${fx.mirrored}/manifests/v1`];
    const responses = await Promise.all(Array.from({ length: 60 }, (_, i) => get(paths[i % paths.length]!)));
    expect(responses.map((r) => r.status)).toEqual(Array.from({ length: 60 }, () => 200));
  });
});
