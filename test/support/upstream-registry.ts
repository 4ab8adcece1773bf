/**
 * A real upstream registry for tests and benchmarks: CNCF Distribution (`docker-registry
 * serve`, Debian's package) with filesystem storage in a temp dir on a free loopback port,
 * logging only errors; optionally behind htpasswd Basic auth. Plus a pusher that writes
 * content to it with plain HTTP requests (monolithic blob upload, manifest PUT).
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import bcrypt from "bcryptjs";
import { freePort } from "./edge-server.js";
import { digestOf, randomBytes } from "./quay-seed.js";

export interface UpstreamRegistryOptions {
  /** htpasswd Basic auth with this one user. */
  basicAuth?: { username: string; password: string };
  /** Manifest deletes allowed (Distribution's `storage.delete.enabled`). */
  deletes?: boolean;
}

export interface UpstreamRegistryProcess {
  /** `http://127.0.0.1:PORT`. */
  url: string;
  /** `127.0.0.1:PORT`. */
  host: string;
  pid: number;
  close(): Promise<void>;
}

const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;

function config(root: string, port: number, htpasswd: string | null, deletes: boolean): string {
  const lines = [
    "version: 0.1",
    "log:",
    "  level: error",
    "  accesslog:",
    "    disabled: true",
    "storage:",
    "  filesystem:",
    `    rootdirectory: ${root}`,
    // Debian's packaged default: blob descriptors cached in memory.
    "  cache:",
    "    blobdescriptor: inmemory",
    ...(deletes ? ["  delete:", "    enabled: true"] : []),
    "http:",
    `  addr: 127.0.0.1:${port}`,
  ];
  if (htpasswd !== null) lines.push("auth:", "  htpasswd:", "    realm: pier-test-upstream", `    path: ${htpasswd}`);
  return `${lines.join("\n")}\n`;
}

async function waitUntilServing(url: string, exited: () => boolean, output: () => string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exited()) throw new Error(`docker-registry exited at start:\n${output()}`);
    const status = await fetch(`${url}/v2/`).then(
      (r) => r.status,
      () => 0,
    );
    // 401: serving, behind auth.
    if (status === 200 || status === 401) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`docker-registry did not serve ${url}/v2/ within ${START_TIMEOUT_MS} ms:\n${output()}`);
}

export async function startUpstreamRegistry(options: UpstreamRegistryOptions = {}): Promise<UpstreamRegistryProcess> {
  const dir = await mkdtemp(join(tmpdir(), "pier-upstream-registry-"));
  const port = await freePort();
  let htpasswd: string | null = null;
  if (options.basicAuth) {
    htpasswd = join(dir, "htpasswd");
    // Distribution accepts bcrypt entries only.
    await writeFile(htpasswd, `${options.basicAuth.username}:${bcrypt.hashSync(options.basicAuth.password, 5)}\n`);
  }
  const configPath = join(dir, "config.yml");
  await writeFile(configPath, config(join(dir, "storage"), port, htpasswd, options.deletes ?? false));
  const child = spawn("docker-registry", ["serve", configPath], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.on("error", (error) => (output += `${error}\n`));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const hasExited = () => child.pid === undefined || child.exitCode !== null || child.signalCode !== null;
  const close = async () => {
    if (!hasExited()) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  try {
    if (child.pid === undefined) throw new Error("docker-registry did not start");
    await waitUntilServing(url, hasExited, () => output);
  } catch (error) {
    await close();
    throw error;
  }
  return { url, host: `127.0.0.1:${port}`, pid: child.pid, close };
}

export interface PushedImage {
  /** The manifest's digest, bytes and media type as pushed. */
  digest: string;
  bytes: Uint8Array;
  mediaType: string;
  layers: { digest: string; bytes: Uint8Array }[];
}

const encoder = new TextEncoder();

async function expectStatus(response: Response, status: number, what: string): Promise<void> {
  if (response.status !== status) throw new Error(`${what}: HTTP ${response.status} ${await response.text()}`);
  await response.body?.cancel();
}

/** Uploads one blob monolithically (POST, then PUT with the digest); `authorization` for registries behind auth. */
export async function pushBlob(url: string, repository: string, bytes: Uint8Array, authorization?: string): Promise<string> {
  const headers: Record<string, string> = authorization ? { authorization } : {};
  const digest = await digestOf(bytes);
  const started = await fetch(`${url}/v2/${repository}/blobs/uploads/`, { method: "POST", headers });
  await expectStatus(started, 202, `starting a blob upload to ${repository}`);
  const location = new URL(started.headers.get("location")!, url);
  location.searchParams.set("digest", digest);
  const put = await fetch(location, {
    method: "PUT",
    headers: { ...headers, "content-type": "application/octet-stream" },
    body: bytes as BodyInit,
  });
  await expectStatus(put, 201, `finishing the upload of ${digest}`);
  return digest;
}

/** Pushes an OCI image (random layers of `layerSizes`) and tags it `tag`. */
export async function pushImage(
  url: string,
  repository: string,
  tag: string,
  options: { layerSizes?: number[]; authorization?: string } = {},
): Promise<PushedImage> {
  const layers: { digest: string; bytes: Uint8Array }[] = [];
  for (const size of options.layerSizes ?? [1024, 2048]) {
    const bytes = randomBytes(size);
    layers.push({ digest: await pushBlob(url, repository, bytes, options.authorization), bytes });
  }
  const config = encoder.encode(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] } }));
  const configDigest = await pushBlob(url, repository, config, options.authorization);
  const mediaType = "application/vnd.oci.image.manifest.v1+json";
  const bytes = encoder.encode(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: configDigest, size: config.byteLength },
      layers: layers.map((l) => ({ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: l.digest, size: l.bytes.byteLength })),
    }),
  );
  const headers: Record<string, string> = { "content-type": mediaType };
  if (options.authorization) headers.authorization = options.authorization;
  const put = await fetch(`${url}/v2/${repository}/manifests/${tag}`, { method: "PUT", headers, body: bytes as BodyInit });
  await expectStatus(put, 201, `pushing ${repository}:${tag}`);
  return { digest: await digestOf(bytes), bytes, mediaType, layers };
}
