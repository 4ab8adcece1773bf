/**
 * The benchmark's counting forwarder (bench/counting-proxy.ts) in front of a real
 * docker-registry: what it passes on arrives unchanged (status, headers, bytes, also a
 * streamed upload), and it counts every request and its response body bytes by method and path.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCountingProxy, type CountingProxy } from "../../bench/counting-proxy.js";
import { digestOf, randomBytes } from "../support/quay-seed.js";
import { pushBlob, startUpstreamRegistry, type UpstreamRegistryProcess } from "../support/upstream-registry.js";

let upstream: UpstreamRegistryProcess;
let proxy: CountingProxy;

beforeAll(async () => {
  upstream = await startUpstreamRegistry();
  proxy = await startCountingProxy(upstream.host);
});

afterAll(async () => {
  await proxy?.close();
  await upstream?.close();
});

describe("the benchmark's counting proxy", () => {
  it("forwards GET, HEAD and uploads unchanged and counts them by method and path", async () => {
    const bytes = randomBytes(3_000_000);
    // Pushed through the proxy: POST, then a monolithic PUT with the body streamed on.
    const digest = await pushBlob(`http://${proxy.host}`, "bench/counted", bytes);
    expect(digest).toBe(await digestOf(bytes));
    const blobPath = `/v2/bench/counted/blobs/${digest}`;

    const get = await fetch(`http://${proxy.host}${blobPath}?x=1`);
    expect(get.status).toBe(200);
    expect(get.headers.get("docker-content-digest")).toBe(digest);
    expect(await digestOf(new Uint8Array(await get.arrayBuffer()))).toBe(digest);
    const head = await fetch(`http://${proxy.host}${blobPath}`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(bytes.byteLength));
    const missing = await fetch(`http://${proxy.host}/v2/bench/counted/manifests/nope`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe("MANIFEST_UNKNOWN");

    const counts = proxy.counts();
    expect(counts.get(`GET ${blobPath}`)).toBe(1);
    expect(counts.get(`HEAD ${blobPath}`)).toBe(1);
    expect(counts.get("GET /v2/bench/counted/manifests/nope")).toBe(1);
    expect(counts.get("POST /v2/bench/counted/blobs/uploads/")).toBe(1);
    expect([...counts.keys()].filter((key) => key.startsWith("PUT /v2/bench/counted/blobs/uploads/"))).toHaveLength(1);

    const sent = proxy.bytes();
    expect(sent.get(`GET ${blobPath}`)).toBe(bytes.byteLength);
    expect(sent.get(`HEAD ${blobPath}`) ?? 0).toBe(0);
    expect(sent.get("GET /v2/bench/counted/manifests/nope")).toBeGreaterThan(0);

    proxy.reset();
    expect(proxy.counts().size).toBe(0);
    expect(proxy.bytes().size).toBe(0);
  });
});
