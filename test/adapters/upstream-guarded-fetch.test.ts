/**
 * The guarded Upstream adapter against real local HTTP servers: redirects are
 * followed hop by hop, and a hop to a forbidden place is refused before it is made.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { guardedUpstream } from "../../src/adapters/upstream/guarded-fetch.js";
import { resolveAll } from "../../src/adapters/upstream/node-resolver.js";
import { isDependencyUnavailable } from "../../src/core/errors/dependency-unavailable.js";
import { UpstreamBlockedError } from "../../src/core/upstream-guard.js";
import { startFaultProxy } from "../support/fault-proxy.js";

describe("guarded upstream fetch", () => {
  let server: http.Server;
  let base: string;
  const seen: { url: string; authorization: string | undefined }[] = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      seen.push({ url: req.url!, authorization: req.headers.authorization });
      const port = (server.address() as AddressInfo).port;
      if (req.url === "/ok") res.writeHead(200, { "content-type": "text/plain" }).end("upstream body");
      else if (req.url === "/hop") res.writeHead(302, { location: "/ok" }).end();
      else if (req.url === "/to-metadata") res.writeHead(302, { location: "http://169.254.169.254/latest/" }).end();
      else if (req.url === "/to-other-loopback") res.writeHead(307, { location: `http://127.0.0.2:${port}/ok` }).end();
      else if (req.url === "/to-localhost") res.writeHead(302, { location: `http://localhost:${port}/ok` }).end();
      else if (req.url === "/loop") res.writeHead(302, { location: "/loop" }).end();
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const upstream = (allowedHosts: string[]) => guardedUpstream({ policy: { allowedHosts }, resolve: resolveAll });

  it("fetches an allowlisted upstream and follows a same-host redirect", async () => {
    const response = await upstream(["127.0.0.1"]).fetch(new Request(`${base}/hop`, { headers: { authorization: "Bearer t" } }));
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("upstream body");
    expect(seen.slice(-2)).toEqual([
      { url: "/hop", authorization: "Bearer t" },
      { url: "/ok", authorization: "Bearer t" },
    ]);
  });

  it("refuses a loopback upstream that is not allowlisted, without sending anything", async () => {
    const before = seen.length;
    await expect(upstream([]).fetch(new Request(`${base}/ok`))).rejects.toBeInstanceOf(UpstreamBlockedError);
    expect(seen.length).toBe(before);
  });

  it("refuses redirects to metadata, to other internal hosts and to names resolving internally", async () => {
    for (const path of ["/to-metadata", "/to-other-loopback", "/to-localhost"]) {
      const before = seen.length;
      await expect(upstream(["127.0.0.1"]).fetch(new Request(`${base}${path}`)), path).rejects.toBeInstanceOf(UpstreamBlockedError);
      expect(seen.slice(before).map((s) => s.url)).toEqual([path]);
    }
  });

  it("gives up on a frozen upstream in time as unavailable, and reaches it again once it answers", async () => {
    const proxy = await startFaultProxy({ host: "127.0.0.1", port: Number(new URL(base).port) });
    try {
      const frozenUpstream = guardedUpstream({ policy: { allowedHosts: ["127.0.0.1"] }, resolve: resolveAll, timeoutMs: 500 });
      const url = `${proxy.urlFor(base)}ok`;
      proxy.freeze();
      const started = Date.now();
      const error = await frozenUpstream.fetch(new Request(url)).catch((e: unknown) => e);
      expect(isDependencyUnavailable(error)).toBe(true);
      expect(Date.now() - started).toBeLessThan(2_500);
      proxy.pass();
      const response = await frozenUpstream.fetch(new Request(url));
      expect(await response.text()).toBe("upstream body");
    } finally {
      await proxy.close();
    }
  });

  it("stops redirect loops", async () => {
    await expect(
      guardedUpstream({ policy: { allowedHosts: ["127.0.0.1"] }, maxRedirects: 3 }).fetch(new Request(`${base}/loop`)),
    ).rejects.toThrow("more than 3 redirects");
  });
});
