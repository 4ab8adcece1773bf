/**
 * Real clients pull through the proxy cache at the edge: the bundled Worker under
 * Miniflare answers warm pulls itself and hands misses to the Node origin, which fills
 * from a real upstream (Debian's docker-registry, fed by skopeo, behind a fault proxy).
 * Every pulled digest is checked against the upstream's; with the upstream down, the
 * cached image still pulls.
 */
import { createHash } from "node:crypto";
import { mkdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startUpstreamRegistry, type UpstreamRegistryProcess } from "../support/upstream-registry.js";
import { nodePostgresSql } from "../../src/adapters/sql/node-postgres.js";
import type { EdgeServer } from "../support/edge-server.js";
import { startFaultProxy, type FaultProxy } from "../support/fault-proxy.js";
import { startLocalStack, type LocalStack } from "../support/gateways.js";
import { hermeticClients, type HermeticClients } from "../support/hermetic-clients.js";
import { createOciLayout, type LayoutImage, type OciLayout } from "../support/oci-layout.js";
import { startEdgeWithOrigin, type OriginProcess } from "../support/origin-process.js";
import { createAnonymousCacheOrganization, edgeSigningKeySecret } from "../support/cache-organization.js";
import { unique } from "../support/quay-seed.js";

const CLIENT_TIMEOUT_MS = 120_000;
const org = unique("hub");

let stack: LocalStack;
let upstream: UpstreamRegistryProcess;
let faulty: FaultProxy;
let origin: OriginProcess;
let edge: EdgeServer;
let work: string;
let layout: OciLayout;
let clients: HermeticClients;

beforeAll(async () => {
  stack = await startLocalStack("proxye2e");
  upstream = await startUpstreamRegistry();
  const [host, port] = upstream.host.split(":");
  faulty = await startFaultProxy({ host: host!, port: Number(port) });
  const sql = nodePostgresSql(stack.bindings.DATABASE_URL);
  let signingKey: string;
  try {
    await createAnonymousCacheOrganization(sql, org, new URL(faulty.urlFor(`http://${upstream.host}`)).host);
    signingKey = await edgeSigningKeySecret(sql, "pier-e2e-proxy-cache");
  } finally {
    await sql.close();
  }
  const proxy = { PIER_PROXY_CACHE: "true", PIER_SSRF_ALLOWED_HOSTS: "127.0.0.1" };
  ({ edge, origin } = await startEdgeWithOrigin(stack.bindings, { origin: proxy, edge: { ...proxy, PIER_SIGNING_KEY: signingKey } }));
  // Short: podman refuses a runroot path longer than 50 characters.
  work = join(tmpdir(), `pier-pc-${crypto.randomUUID().slice(0, 8)}`);
  await mkdir(work);
  clients = await hermeticClients(work);
  layout = await createOciLayout(join(work, "layout"));
}, 180_000);

afterAll(async () => {
  await edge?.close();
  await origin?.close();
  await faulty?.close();
  await upstream?.close();
  await stack?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

function skopeo(command: string, args: readonly string[]): Promise<string> {
  return clients.skopeo(command, args, { timeoutMs: CLIENT_TIMEOUT_MS, context: () => `--- origin output ---\n${origin.output()}` });
}

async function pushUpstream(descriptor: { digest: string }, repository: string, tag: string, all = false): Promise<void> {
  await layout.tag(tag, descriptor as LayoutImage["manifest"]);
  await skopeo("copy", [
    ...(all ? ["--all"] : []),
    "--dest-tls-verify=false",
    `oci:${layout.dir}:${tag}`,
    `docker://${upstream.host}/${repository}:${tag}`,
  ]);
}

async function fileDigest(path: string): Promise<string> {
  return `sha256:${createHash("sha256")
    .update(await readFile(path))
    .digest("hex")}`;
}

/** skopeo copy from the edge, anonymously, into a `dir:`; checks every blob file against its digest. */
async function pullAndVerify(repository: string, tag: string, image: LayoutImage): Promise<void> {
  const dir = join(work, `pull-${crypto.randomUUID().slice(0, 8)}`);
  await skopeo("copy", ["--src-tls-verify=false", `docker://${edge.host}/${org}/${repository}:${tag}`, `dir:${dir}`]);
  expect(await fileDigest(join(dir, "manifest.json"))).toBe(image.manifest.digest);
  for (const blob of [image.config, ...image.layers])
    expect(await fileDigest(join(dir, blob.digest.slice("sha256:".length)))).toBe(blob.digest);
}

describe("pulling through the proxy cache at the edge", () => {
  it(
    "skopeo pulls an uncached image anonymously (filled at the origin), and again from the cache while the upstream is down",
    async () => {
      const image = await layout.addImage({ layerSizes: [2_000_000, 40_000] });
      await pushUpstream(image.manifest, "library/app", "v1");
      await pullAndVerify("library/app", "v1", image);
      faulty.down();
      try {
        await pullAndVerify("library/app", "v1", image);
      } finally {
        faulty.pass();
      }
    },
    CLIENT_TIMEOUT_MS * 2,
  );

  it(
    "podman pulls a multi-platform image through the edge and gets the linux/amd64 image",
    async () => {
      const amd64 = await layout.addImage({ layerSizes: [30_000] });
      const arm64 = await layout.addImage({ layerSizes: [31_000], platform: { os: "linux", architecture: "arm64" } });
      const index = await layout.addIndex([
        { image: amd64, platform: { os: "linux", architecture: "amd64" } },
        { image: arm64, platform: { os: "linux", architecture: "arm64" } },
      ]);
      await pushUpstream(index, "library/multi", "v1", true);
      const root = join(work, "podman");
      const argv = [
        "--root",
        join(root, "root"),
        "--runroot",
        join(root, "run"),
        "--storage-driver",
        "vfs",
        "--cgroup-manager",
        "cgroupfs",
      ];
      const pull = ["--events-backend", "file", "pull", "--signature-policy", clients.policy, "--quiet", "--tls-verify=false"];
      const imageId = (
        await clients.run("podman", [...argv, ...pull, "--arch", "amd64", `${edge.host}/${org}/library/multi:v1`], {
          timeoutMs: CLIENT_TIMEOUT_MS,
          context: () => `--- origin output ---\n${origin.output()}`,
        })
      ).trim();
      expect(`sha256:${imageId}`).toBe(amd64.config.digest);
    },
    CLIENT_TIMEOUT_MS,
  );
});
