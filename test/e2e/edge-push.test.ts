/**
 * Pushes with real clients through the edge entry point: the bundled Worker under
 * Miniflare (HTTPS) opens each upload session and hands out a `Location` on the Node
 * origin (workers/origin.ts as a child process), which receives the bytes; manifests
 * go to the edge. Both accept the edge's tokens (one PIER_SERVER_HOSTNAME). Everything
 * pushed is pulled back from the edge and checked digest by digest, and a 1 GiB layer
 * measures the origin's peak memory.
 */
import { createHash, KeyObject } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, readdir, readFile, rm } from "node:fs/promises";
import http, { type IncomingMessage } from "node:http";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { s3BlobStore } from "../../src/adapters/blob/s3.js";
import { nodePostgresSql } from "../../src/adapters/sql/node-postgres.js";
import { FieldEncrypter } from "../../src/core/auth/field-encryption.js";
import { hashPassword } from "../../src/core/auth/passwords.js";
import { createInstanceKey } from "../../src/core/auth/service-keys.js";
import { loadS3Settings } from "../../src/core/config.js";
import { MediaType } from "../../src/core/model/media-types.js";
import { systemClock } from "../../src/core/ports/clock.js";
import type { Queryable } from "../../src/core/ports/sql.js";
import type { EdgeServer } from "../support/edge-server.js";
import { startLocalStack, type LocalStack } from "../support/gateways.js";
import { hermeticClients, type HermeticClients } from "../support/hermetic-clients.js";
import { createOciLayout, type LayoutImage, type OciLayout } from "../support/oci-layout.js";
import { startEdgeWithOrigin, type OriginProcess } from "../support/origin-process.js";
import { createNamespace, createRepository, unique } from "../support/quay-seed.js";

const CLIENT_TIMEOUT_MS = 120_000;
const BIG_LAYER_BYTES = 1 << 30;
const PEAK_RSS_LIMIT_BYTES = 150_000_000;
const SECRET_KEY = "pier-e2e-push-database-secret";
const REPOSITORIES = ["oci", "multi", "docker", "podman", "big"] as const;

const org = unique("acme");
const pusher = unique("pusher");
const password = `pw-${crypto.randomUUID()}`;
const robot = `${org}+ci`;
const robotToken = crypto.randomUUID().replace(/-/g, "").toUpperCase().repeat(2);
const userCreds = `${pusher}:${password}`;
const robotCreds = `${robot}:${robotToken}`;

let stack: LocalStack;
let origin: OriginProcess;
let edge: EdgeServer;
let work: string;
let layout: OciLayout;
let clients: HermeticClients;

async function grantWrite(sql: Queryable, userId: number, repositoryId: number): Promise<void> {
  await sql.query(`INSERT INTO repositorypermission (user_id, repository_id, role_id) SELECT $1, $2, id FROM role WHERE name = 'write'`, [
    userId,
    repositoryId,
  ]);
}

/** An organization with private repositories, a user who may write them all, and a robot that may write `docker`. */
async function seedAccounts(sql: Queryable): Promise<void> {
  const target = { sql, blobs: s3BlobStore(loadS3Settings({ ...stack.bindings })!) };
  const orgId = await createNamespace(target, org, { organization: true });
  const userId = await createNamespace(target, pusher);
  await sql.query(`UPDATE "user" SET password_hash = $1 WHERE id = $2`, [await hashPassword(password), userId]);
  const robotId = await createNamespace(target, robot);
  await sql.query(`UPDATE "user" SET robot = true WHERE id = $1`, [robotId]);
  await sql.query(`INSERT INTO robotaccounttoken (robot_account_id, token, fully_migrated) VALUES ($1, $2, true)`, [
    robotId,
    await new FieldEncrypter(SECRET_KEY).encrypt(robotToken),
  ]);
  for (const name of REPOSITORIES) {
    const repositoryId = await createRepository(target, orgId, name, { visibility: "private" });
    await grantWrite(sql, userId, repositoryId);
    if (name === "docker") await grantWrite(sql, robotId, repositoryId);
  }
}

beforeAll(async () => {
  stack = await startLocalStack("edgepush");
  const sql = nodePostgresSql(stack.bindings.DATABASE_URL);
  let signingKey: string;
  try {
    await seedAccounts(sql);
    const key = await createInstanceKey(sql, systemClock, "pier-e2e-edge-push");
    // Non-extractable for Web Crypto; Node's KeyObject still exports it for the edge's binding.
    const jwk = KeyObject.from(key.signing.privateKey as CryptoKey).export({ format: "jwk" });
    signingKey = JSON.stringify({ ...jwk, kid: key.signing.kid, alg: key.signing.alg });
  } finally {
    await sql.close();
  }
  ({ edge, origin } = await startEdgeWithOrigin(stack.bindings, {
    origin: { PIER_DATABASE_SECRET_KEY: SECRET_KEY },
    edge: { PIER_SIGNING_KEY: signingKey, PIER_DATABASE_SECRET_KEY: SECRET_KEY },
  }));

  // Short and lower case: podman names an image pulled from `oci:<dir>` after the
  // directory, and refuses a runroot path longer than 50 characters.
  work = join(tmpdir(), `pier-push-${crypto.randomUUID().slice(0, 8)}`);
  await mkdir(work);
  clients = await hermeticClients(work);
  layout = await createOciLayout(join(work, "layout"));
}, 120_000);

afterAll(async () => {
  await edge?.close();
  await origin?.close();
  await stack?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

/** Runs a client hermetically; its stderr (and the origin's output) is in the error when it fails. */
function client(command: "skopeo" | "podman", argv: readonly string[], timeoutMs = CLIENT_TIMEOUT_MS): Promise<string> {
  return clients.run(command, argv, { timeoutMs, context: () => `--- origin output ---\n${origin.output()}` });
}

function skopeo(command: string, args: readonly string[], timeoutMs = CLIENT_TIMEOUT_MS): Promise<string> {
  return clients.skopeo(command, args, { timeoutMs, context: () => `--- origin output ---\n${origin.output()}` });
}

/** skopeo copy to the edge; resolves with the manifest digest skopeo pushed. */
async function skopeoPush(source: string, repository: string, tag: string, creds: string, extra: readonly string[] = []): Promise<string> {
  const digestFile = join(work, `${repository}-${tag}.digest`);
  await skopeo(
    "copy",
    ["--dest-tls-verify=false", "--dest-creds", creds, "--digestfile", digestFile, ...extra, source, ref(repository, tag)],
    CLIENT_TIMEOUT_MS * 3,
  );
  return (await readFile(digestFile, "utf8")).trim();
}

const ref = (repository: string, tag: string) => `docker://${edge.host}/${org}/${repository}:${tag}`;
const ociRef = (name: string) => `oci:${layout.dir}:${name}`;

/** GET/HEAD on the edge (self-signed HTTPS) or a redirect target; the body is left to the caller. */
function open(method: string, url: string, headers: Record<string, string> = {}): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const request = (url.startsWith("https:") ? https : http).request(url, { method, headers, rejectUnauthorized: false }, resolve);
    request.on("error", reject);
    request.end();
  });
}

/** A pull token for `org/repository` from the edge's /v2/auth, as the pushing user. */
async function pullToken(repository: string): Promise<string> {
  const query = new URLSearchParams({ service: edge.host, scope: `repository:${org}/${repository}:pull` });
  const response = await open("GET", `${edge.url}/v2/auth?${query}`, {
    authorization: `Basic ${Buffer.from(userCreds).toString("base64")}`,
  });
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  expect(response.statusCode).toBe(200);
  return (JSON.parse(Buffer.concat(chunks).toString()) as { token: string }).token;
}

/** The digest the edge reports for a tag (HEAD, every manifest type accepted). */
async function registryDigest(repository: string, tag: string): Promise<string> {
  const response = await open("HEAD", `${edge.url}/v2/${org}/${repository}/manifests/${tag}`, {
    authorization: `Bearer ${await pullToken(repository)}`,
    accept: Object.values(MediaType).join(", "),
  });
  response.resume();
  expect(response.statusCode).toBe(200);
  return response.headers["docker-content-digest"] as string;
}

async function sha256Of(stream: AsyncIterable<Buffer> | NodeJS.ReadableStream): Promise<{ digest: string; bytes: number }> {
  const hash = createHash("sha256");
  let bytes = 0;
  await pipeline(stream, async function (source: AsyncIterable<Buffer>) {
    for await (const chunk of source) {
      hash.update(chunk);
      bytes += chunk.byteLength;
    }
  });
  return { digest: `sha256:${hash.digest("hex")}`, bytes };
}

const sha256 = (bytes: Buffer) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
const hex = (digest: string) => digest.slice("sha256:".length);
const blobsOf = (...images: LayoutImage[]) => images.flatMap((image) => [image.config.digest, ...image.layers.map((l) => l.digest)]);

/**
 * A `dir:` copy holds `manifest.json` (the pulled manifest's bytes), one
 * `<hex>.manifest.json` per list instance and one file per blob named by its digest's
 * hex: each must hash to its name, and the blobs must be exactly `blobs`.
 */
async function expectDirCopy(dir: string, manifest: string, blobs: readonly string[], instances: readonly string[] = []): Promise<void> {
  expect(sha256(await readFile(join(dir, "manifest.json")))).toBe(manifest);
  for (const instance of instances) expect(sha256(await readFile(join(dir, `${hex(instance)}.manifest.json`)))).toBe(instance);
  const names = await readdir(dir);
  expect(names.filter((name) => name.endsWith("manifest.json")).sort()).toEqual(
    ["manifest.json", ...instances.map((digest) => `${hex(digest)}.manifest.json`)].sort(),
  );
  const files = names.filter((name) => name !== "version" && !name.endsWith("manifest.json"));
  expect(files.sort()).toEqual([...new Set(blobs.map(hex))].sort());
  for (const name of files) expect((await sha256Of(createReadStream(join(dir, name)))).digest).toBe(`sha256:${name}`);
}

/** skopeo copy from the edge into `dir:` (as the pushing user). */
async function pullToDir(repository: string, tag: string, extra: readonly string[] = []): Promise<string> {
  const dir = join(work, `pulled-${repository}-${tag}`);
  await skopeo("copy", ["--src-tls-verify=false", "--src-creds", userCreds, ...extra, ref(repository, tag), `dir:${dir}`]);
  return dir;
}

describe("skopeo pushes through the edge", () => {
  it(
    "pushes an OCI image unchanged and pulls it back",
    async () => {
      const image = await layout.addImage({ layerSizes: [2048, 300_000] });
      await layout.tag("oci", image.manifest);
      const pushed = await skopeoPush(ociRef("oci"), "oci", "v1", userCreds);
      expect(pushed).toBe(image.manifest.digest);
      expect(await registryDigest("oci", "v1")).toBe(pushed);
      await expectDirCopy(await pullToDir("oci", "v1"), pushed, blobsOf(image));
    },
    CLIENT_TIMEOUT_MS,
  );

  it(
    "pushes a multi-arch OCI index with every platform and pulls it all back",
    async () => {
      const amd64 = await layout.addImage({ layerSizes: [4096, 70_000] });
      const arm64 = await layout.addImage({ layerSizes: [1024], platform: { os: "linux", architecture: "arm64" } });
      const index = await layout.addIndex([
        { image: amd64, platform: { os: "linux", architecture: "amd64" } },
        { image: arm64, platform: { os: "linux", architecture: "arm64" } },
      ]);
      await layout.tag("multi", index);
      const pushed = await skopeoPush(ociRef("multi"), "multi", "v1", userCreds, ["--multi-arch", "all"]);
      expect(pushed).toBe(index.digest);
      expect(await registryDigest("multi", "v1")).toBe(pushed);
      const dir = await pullToDir("multi", "v1", ["--multi-arch", "all"]);
      await expectDirCopy(dir, pushed, blobsOf(amd64, arm64), [amd64.manifest.digest, arm64.manifest.digest]);
    },
    CLIENT_TIMEOUT_MS,
  );

  it(
    "pushes a Docker schema2 image as a robot and pulls it back",
    async () => {
      const image = await layout.addImage({ layerSizes: [512, 100_000] });
      await layout.tag("docker", image.manifest);
      const pushed = await skopeoPush(ociRef("docker"), "docker", "v1", robotCreds, ["--format", "v2s2"]);
      expect(await registryDigest("docker", "v1")).toBe(pushed);
      const dir = await pullToDir("docker", "v1");
      await expectDirCopy(dir, pushed, blobsOf(image));
      // Converted, not rewritten: the same config and layers under Docker's media types.
      const manifest = JSON.parse(await readFile(join(dir, "manifest.json"), "utf8")) as {
        mediaType: string;
        config: { digest: string };
        layers: { digest: string; mediaType: string }[];
      };
      expect(manifest.mediaType).toBe(MediaType.dockerManifest);
      expect(manifest.config.digest).toBe(image.config.digest);
      expect(manifest.layers.map((l) => [l.digest, l.mediaType])).toEqual(
        image.layers.map((l) => [l.digest, "application/vnd.docker.image.rootfs.diff.tar.gzip"]),
      );
    },
    CLIENT_TIMEOUT_MS,
  );
});

describe("podman pushes through the edge", () => {
  /** podman as root on its own storage (`name` under the work dir), with the flags this machine needs. */
  function podman(storage: string, command: string, args: readonly string[]): Promise<string> {
    const root = join(work, `podman-${storage}`);
    const argv = ["--root", join(root, "root"), "--runroot", join(root, "run"), "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs"];
    return client("podman", [...argv, "--events-backend", "file", command, ...args]);
  }
  const policy = () => ["--signature-policy", clients.policy];

  it(
    "pushes an image from its storage and pulls it back into fresh storage with the same digest",
    async () => {
      const image = await layout.addImage({ layerSizes: [3000, 50_000] });
      await layout.tag("podman", image.manifest);
      const imageId = (await podman("a", "pull", [...policy(), "--quiet", ociRef("podman")])).trim();
      expect(`sha256:${imageId}`).toBe(image.config.digest);

      const digestFile = join(work, "podman.digest");
      await podman("a", "push", [
        ...policy(),
        "--tls-verify=false",
        "--creds",
        userCreds,
        "--digestfile",
        digestFile,
        imageId,
        ref("podman", "v1"),
      ]);
      const pushed = (await readFile(digestFile, "utf8")).trim();
      expect(await registryDigest("podman", "v1")).toBe(pushed);

      const pulledId = (
        await podman("b", "pull", [...policy(), "--quiet", "--tls-verify=false", "--creds", userCreds, `${edge.host}/${org}/podman:v1`])
      ).trim();
      expect(pulledId).toBe(imageId);
      expect((await podman("b", "image", ["inspect", "--format", "{{.Digest}}", pulledId])).trim()).toBe(pushed);
    },
    CLIENT_TIMEOUT_MS,
  );
});

describe("a 1 GiB layer", () => {
  it("streams through the origin within bounded memory and is stored with its digest", async () => {
    const big = await createOciLayout(join(work, "big-layout"));
    try {
      const image = await big.addImage({ layerSizes: [BIG_LAYER_BYTES] });
      const layer = image.layers[0]!;
      await big.tag("big", image.manifest);
      const baseline = { rss: await origin.rssBytes(), peak: await origin.peakRssBytes() };

      const started = Date.now();
      const pushed = await skopeoPush(`oci:${big.dir}:big`, "big", "v1", userCreds);
      const seconds = (Date.now() - started) / 1000;
      const peak = await origin.peakRssBytes();
      const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;
      console.log(
        `1 GiB push: ${layer.size} bytes in ${seconds.toFixed(1)} s; origin peak RSS ${mib(peak)} (${peak} bytes); ` +
          `before the push: RSS ${mib(baseline.rss)}, peak ${mib(baseline.peak)}`,
      );
      expect(pushed).toBe(image.manifest.digest);
      expect(await registryDigest("big", "v1")).toBe(pushed);

      // Pull just the layer from the edge (HEAD, then GET through its redirect), hashing as it arrives.
      const auth = { authorization: `Bearer ${await pullToken("big")}` };
      const blobUrl = `${edge.url}/v2/${org}/big/blobs/${layer.digest}`;
      const head = await open("HEAD", blobUrl, auth);
      head.resume();
      expect([head.statusCode, head.headers["content-length"]]).toEqual([200, String(layer.size)]);
      let response = await open("GET", blobUrl, auth);
      if (response.statusCode === 307 || response.statusCode === 302) {
        response.resume();
        response = await open("GET", new URL(response.headers.location!, blobUrl).href);
      }
      expect(response.statusCode).toBe(200);
      expect(await sha256Of(response)).toEqual({ digest: layer.digest, bytes: layer.size });
      expect(peak).toBeLessThan(PEAK_RSS_LIMIT_BYTES);
    } finally {
      await rm(big.dir, { recursive: true, force: true });
    }
  }, 600_000);
});
