/**
 * Mutual TLS between the edge and the origin: the origin (HTTPS, PIER_TLS_CLIENT_CA_FILE)
 * serves only clients presenting a certificate its CA signed. The edge Worker under
 * Miniflare hands a proxy-cache miss to it through ORIGIN_MTLS, a workerd network service
 * presenting the edge's client certificate — what Cloudflare's mTLS certificate binding
 * does. An edge without the binding (its global fetch trusting the CA but presenting no
 * certificate) has the same hand-off refused: 503 UNAVAILABLE, while what is cached serves.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodePostgresSql } from "../../src/adapters/sql/node-postgres.js";
import { createAnonymousCacheOrganization, edgeSigningKeySecret } from "../support/cache-organization.js";
import { startEdgeServer, type EdgeServer } from "../support/edge-server.js";
import { startLocalStack, type LocalStack } from "../support/gateways.js";
import { startEdgeWithOrigin, type OriginProcess } from "../support/origin-process.js";
import { digestOf, unique } from "../support/quay-seed.js";
import { pushImage, startUpstreamRegistry, type PushedImage, type UpstreamRegistryProcess } from "../support/upstream-registry.js";

const run = promisify(execFile);
const org = unique("mtls");
const MANIFEST_ACCEPT = "application/vnd.oci.image.manifest.v1+json";

let work: string;
let stack: LocalStack;
let upstream: UpstreamRegistryProcess;
let origin: OriginProcess;
/** Presents the edge's client certificate through ORIGIN_MTLS. */
let bound: EdgeServer;
/** No ORIGIN_MTLS: hand-offs go through the global fetch, which trusts the origin's CA and presents nothing. */
let unbound: EdgeServer;
let edgeHost: string;
let image: PushedImage;
let later: PushedImage;

const pem = (name: string) => readFile(join(work, "certs", name), "utf8");

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "pier-mtls-"));
  const certs = join(work, "certs");
  const pierCert = (args: string[]) => run(process.execPath, ["scripts/pier.mjs", "cert", "--dir", certs, ...args], { timeout: 30_000 });
  await pierCert([]);
  await pierCert(["--client", "edge"]);
  stack = await startLocalStack("mtls");
  upstream = await startUpstreamRegistry();
  image = await pushImage(upstream.url, "library/app", "v1", { layerSizes: [64 * 1024] });
  later = await pushImage(upstream.url, "library/app", "v2", { layerSizes: [32 * 1024] });
  const sql = nodePostgresSql(stack.bindings.DATABASE_URL);
  let signingKey: string;
  try {
    await createAnonymousCacheOrganization(sql, org, upstream.host);
    signingKey = await edgeSigningKeySecret(sql, "pier-e2e-mtls");
  } finally {
    await sql.close();
  }
  const proxy = { PIER_PROXY_CACHE: "true", PIER_SSRF_ALLOWED_HOSTS: "127.0.0.1" };
  const ca = await pem("ca.crt");
  const edgeVars = { ...proxy, PIER_SIGNING_KEY: signingKey };
  ({
    edge: bound,
    origin,
    edgeHost,
  } = await startEdgeWithOrigin(stack.bindings, {
    origin: {
      ...proxy,
      PIER_TLS_CERT_FILE: join(certs, "server.pem"),
      PIER_TLS_KEY_FILE: join(certs, "server-key.pem"),
      PIER_TLS_CLIENT_CA_FILE: join(certs, "ca.crt"),
    },
    edge: edgeVars,
    edgeServer: {
      https: false,
      serviceBindings: {
        ORIGIN_MTLS: {
          network: {
            allow: ["local"],
            tlsOptions: {
              keypair: { privateKey: await pem("edge.key"), certificateChain: await pem("edge.cert") },
              trustedCertificates: [ca],
            },
          },
        },
      },
    },
  }));
  // The same registry under the same name (the tokens' audience), minus the binding.
  unbound = await startEdgeServer({
    https: false,
    bindings: { ...stack.bindings, ...edgeVars, PIER_SERVER_HOSTNAME: edgeHost, PIER_ORIGIN_URL: origin.url },
    outboundService: { network: { allow: ["local"], tlsOptions: { trustedCertificates: [ca] } } },
  });
}, 180_000);

afterAll(async () => {
  await unbound?.close();
  await bound?.close();
  await origin?.close();
  await upstream?.close();
  await stack?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

/** An anonymous pull token from `edge`, then GET `path` of the cached repository with it. */
async function pull(edge: EdgeServer, path: string): Promise<Response> {
  const repository = `${org}/library/app`;
  const auth = await fetch(`${edge.url}/v2/auth?service=${edgeHost}&scope=repository:${repository}:pull`);
  expect(auth.status).toBe(200);
  const { token } = (await auth.json()) as { token: string };
  return fetch(`${edge.url}/v2/${repository}/${path}`, { headers: { authorization: `Bearer ${token}`, accept: MANIFEST_ACCEPT } });
}

async function expectImage(edge: EdgeServer, tag: string, pushed: PushedImage): Promise<void> {
  const manifest = await pull(edge, `manifests/${tag}`);
  expect(manifest.status, await manifest.clone().text()).toBe(200);
  expect(manifest.headers.get("docker-content-digest")).toBe(pushed.digest);
  expect(await digestOf(new Uint8Array(await manifest.arrayBuffer()))).toBe(pushed.digest);
  const layer = pushed.layers[0]!;
  const blob = await pull(edge, `blobs/${layer.digest}`);
  expect(blob.status).toBe(200);
  expect(await digestOf(new Uint8Array(await blob.arrayBuffer()))).toBe(layer.digest);
}

describe("the edge's hand-off to an origin requiring client certificates", () => {
  it("is refused without ORIGIN_MTLS: 503 UNAVAILABLE in the OCI error format", async () => {
    const response = await pull(unbound, "manifests/v2");
    expect(response.status).toBe(503);
    const body = (await response.json()) as { errors: { code: string; message: string }[] };
    expect(body.errors[0]!.code).toBe("UNAVAILABLE");
    expect(body.errors[0]!.message).toContain("origin is unavailable");
  });

  it("goes through with ORIGIN_MTLS: the miss is filled at the origin, manifest and layer verified by digest", async () => {
    await expectImage(bound, "v1", image);
  });

  it("needs no certificate for what is cached: the edge without the binding serves the filled image; the refused one fills through the binding", async () => {
    await expectImage(unbound, "v1", image);
    await expectImage(bound, "v2", later);
  });
});
