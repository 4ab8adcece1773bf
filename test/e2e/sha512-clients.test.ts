/**
 * sha512 content with real clients against the embedded registry (filesystem blob
 * store): curl uploads a sha512 layer and a sha256 config, pushes the mixed image and
 * mounts the layer elsewhere; skopeo re-tags it with --digestfile and reads the manifest
 * back by that digest; curl reads the mounted layer back. (skopeo 1.9 cannot write a
 * sha512 blob anywhere, to a registry or an OCI layout: it hashes what it writes with
 * sha256 and refuses the mismatch, so it only reuses the layer the registry holds.)
 */
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MediaType } from "../../src/core/model/media-types.js";
import { spawnEntry, type Spawned } from "../support/process.js";

const execFileAsync = promisify(execFile);
const READY = /Pier registry ready at http:\/\/127\.0\.0\.1:(\d+) in ([\d.]+) s/;
const CLIENT_TIMEOUT_MS = 60_000;

let dataDir: string;
let registry: Spawned;
let host: string;
let password: string;

const hex = (algorithm: string, bytes: Uint8Array | string) => createHash(algorithm).update(bytes).digest("hex");

/** Runs curl; returns the (last, after redirects) status code and the response headers it printed. */
async function curl(args: string[], output = "/dev/null"): Promise<{ status: number; headers: string }> {
  const { stdout } = await execFileAsync("curl", ["-s", "-D", "-", "-o", output, ...args], { timeout: CLIENT_TIMEOUT_MS });
  const statuses = [...stdout.matchAll(/^HTTP\/[\d.]+ (\d+)/gm)].map((match) => Number(match[1]));
  return { status: statuses.at(-1)!, headers: stdout.toLowerCase() };
}

/** curl -X <method> with a bearer token and a body (`@file` or the bytes themselves). */
function send(method: string, path: string, bearer: string, body: string | null, contentType?: string) {
  const type = contentType ? ["-H", `Content-Type: ${contentType}`] : [];
  const data = body === null ? [] : ["--data-binary", body];
  return curl(["-X", method, "-H", `Authorization: Bearer ${bearer}`, ...type, ...data, `http://${host}${path}`]);
}

async function token(repository: string, readable = ""): Promise<string> {
  const extra = readable ? `&scope=repository:${readable}:pull` : "";
  const { stdout } = await execFileAsync(
    "curl",
    ["-s", "-u", `root1:${password}`, `http://${host}/v2/auth?service=${host}&scope=repository:${repository}:pull,push${extra}`],
    { timeout: CLIENT_TIMEOUT_MS },
  );
  return (JSON.parse(stdout) as { token: string }).token;
}

function skopeo(args: string[]) {
  return execFileAsync("skopeo", [...args], { timeout: CLIENT_TIMEOUT_MS });
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "pier-sha512-"));
  registry = spawnEntry("workers/embedded.ts", { PIER_DATA_DIR: dataDir, PORT: "0", PIER_ADMIN_USER: "root1" });
  host = `127.0.0.1:${Number((await registry.waitFor(READY, 20_000))[1])}`;
  password = (await registry.waitFor(/Created admin user "root1" with password: (\S+)/, 1000))[1]!;
}, 30_000);

afterAll(async () => {
  registry?.child.kill("SIGKILL");
  await rm(dataDir, { recursive: true, force: true });
});

describe("sha512 with curl and skopeo on the filesystem store", () => {
  it(
    "pushes a mixed image and mounts its sha512 layer with curl, re-tags it with skopeo --digestfile and reads both back",
    async () => {
      const layer = gzipSync(randomBytes(200_000));
      const layerFile = join(dataDir, "layer.bin");
      await writeFile(layerFile, layer);
      const layerDigest = `sha512:${hex("sha512", layer)}`;
      const config = JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] } });
      const configDigest = `sha256:${hex("sha256", config)}`;
      const app = await token("root1/app");

      const uploaded = await send(
        "POST",
        `/v2/root1/app/blobs/uploads/?digest=${layerDigest}`,
        app,
        `@${layerFile}`,
        "application/octet-stream",
      );
      expect(uploaded.status).toBe(201);
      expect(uploaded.headers).toContain(`docker-content-digest: ${layerDigest}`);
      const layerHex = layerDigest.slice("sha512:".length);
      expect((await stat(join(dataDir, "storage", "sha512", layerHex.slice(0, 2), layerHex))).size).toBe(layer.byteLength);

      const wrongDigest = layerDigest.replace(/.$/, (c) => (c === "0" ? "1" : "0"));
      expect((await send("POST", `/v2/root1/app/blobs/uploads/?digest=${wrongDigest}`, app, "not the layer")).status).toBe(400);
      expect((await send("POST", `/v2/root1/app/blobs/uploads/?digest=${configDigest}`, app, config)).status).toBe(201);

      const manifest = JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.ociManifest,
        config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: configDigest, size: config.length },
        layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: layerDigest, size: layer.byteLength }],
      });
      for (const reference of [`sha512:${hex("sha512", manifest)}`, "mixed"]) {
        expect((await send("PUT", `/v2/root1/app/manifests/${reference}`, app, manifest, MediaType.ociManifest)).status).toBe(201);
      }

      const copy = await token("root1/copy", "root1/app");
      const mounted = await send("POST", `/v2/root1/copy/blobs/uploads/?mount=${layerDigest}&from=root1/app`, copy, null);
      expect(mounted.status).toBe(201);
      expect(mounted.headers).toContain(`docker-content-digest: ${layerDigest}`);

      const authfile = join(dataDir, "auth.json");
      await skopeo(["login", "--tls-verify=false", "--authfile", authfile, "-u", "root1", "-p", password, host]);
      const digestfile = join(dataDir, "digest");
      await skopeo([
        "copy",
        "--authfile",
        authfile,
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        "--digestfile",
        digestfile,
        `docker://${host}/root1/app:mixed`,
        `docker://${host}/root1/app:copy`,
      ]);
      const copied = (await readFile(digestfile, "utf8")).trim();
      expect(copied).toBe(`sha256:${hex("sha256", manifest)}`);

      const raw = await skopeo(["inspect", "--raw", "--authfile", authfile, "--tls-verify=false", `docker://${host}/root1/app@${copied}`]);
      expect(raw.stdout).toBe(manifest);
      const pulled = join(dataDir, "pulled.bin");
      const read = await curl(
        ["-L", "-H", `Authorization: Bearer ${await token("root1/copy")}`, `http://${host}/v2/root1/copy/blobs/${layerDigest}`],
        pulled,
      );
      expect(read.status).toBe(200);
      expect(`sha512:${hex("sha512", await readFile(pulled))}`).toBe(layerDigest);
    },
    4 * CLIENT_TIMEOUT_MS,
  );
});
