/**
 * Non-blob bodies (management JSON, manifests) are capped while they stream in, on a
 * real Node server: a chunked body with no Content-Length, or one that lies about its
 * length, is answered 413 long before the client could finish sending it, and the
 * server's memory does not grow with the body.
 */
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_MANIFEST_BYTES } from "../../src/core/manifests/parse.js";
import { listen, type RunningServer } from "../../src/runtime/node-server.js";
import { startApiHarness, type ApiHarness } from "../support/api-harness.js";
import { startPushScene, type PushScene } from "../support/origin-registry.js";

/** What the client would send in full: far above every cap. */
const ATTEMPTED_BYTES = 256 * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, "a");

interface Answer {
  status: number;
  body: any;
  /** Bytes written before the answer arrived. */
  sent: number;
}

/** Streams `a`s after `prefix` until the server answers (or ATTEMPTED_BYTES are sent), with backpressure. */
function sendUntilAnswered(port: number, method: string, path: string, headers: Record<string, string>, prefix: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let sent = 0;
    let answered = false;
    const req = request({ host: "127.0.0.1", port, method, path, headers: { host: "registry.test", ...headers } }, (res) => {
      answered = true;
      const parts: Buffer[] = [];
      res.on("data", (part: Buffer) => parts.push(part));
      res.on("end", () => {
        req.destroy();
        const text = Buffer.concat(parts).toString("utf8");
        resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : null, sent });
      });
    });
    // Once answered, the server may close the socket under a client still writing.
    req.on("error", (error) => (answered ? undefined : reject(error)));
    const pump = () => {
      while (!answered && sent < ATTEMPTED_BYTES) {
        const chunk = sent === 0 ? Buffer.concat([Buffer.from(prefix), CHUNK]) : CHUNK;
        sent += chunk.byteLength;
        if (!req.write(chunk)) return void req.once("drain", pump);
      }
      if (!answered) req.end();
    };
    pump();
  });
}

describe("management JSON bodies", () => {
  let api: ApiHarness;
  let server: RunningServer;

  beforeAll(async () => {
    api = await startApiHarness("bodylimit");
    server = await listen(api.app, { hostname: "127.0.0.1", port: 0 });
  });
  afterAll(async () => {
    await server?.close();
    await api?.close();
  });

  const json = { "content-type": "application/json" };
  const cases: [string, () => Record<string, string>][] = [
    ["chunked, no Content-Length, anonymous", () => ({ ...json, "transfer-encoding": "chunked" })],
    ["chunked, no Content-Length, signed in", () => ({ ...json, "transfer-encoding": "chunked", authorization: api.root.basic })],
    ["a declared Content-Length above the cap", () => ({ ...json, "content-length": String(ATTEMPTED_BYTES) })],
  ];
  it.each(cases)("answers an oversized body (%s) with 413 before it is sent", async (_, headers) => {
    const rssBefore = process.memoryUsage().rss;
    const answer = await sendUntilAnswered(server.port, "POST", "/api/v1/organization/", headers(), '{"name": "');
    expect(answer.status).toBe(413);
    expect(answer.body).toMatchObject({ status: 413, error_type: "request_too_large", detail: "The request body is too large" });
    // The cap is 1 MiB; the client had 256 MiB to send.
    expect(answer.sent).toBeLessThan(32 * 1024 * 1024);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(128 * 1024 * 1024);
  });

  it("still reads an ordinary body sent chunked", async () => {
    const name = `chunked${Date.now()}`;
    const response = await fetch(`http://127.0.0.1:${server.port}/api/v1/organization/`, {
      method: "POST",
      headers: { authorization: api.root.basic, "content-type": "application/json" },
      body: new Blob([JSON.stringify({ name })]).stream(),
      duplex: "half",
    } as RequestInit);
    expect(response.status).toBe(201);
    const { rows } = await api.sql.query(`SELECT 1 FROM "user" WHERE username = $1 AND organization`, [name]);
    expect(rows).toHaveLength(1);
  });
});

describe("manifest bodies", () => {
  let scene: PushScene;
  let server: RunningServer;

  beforeAll(async () => {
    scene = await startPushScene("manifestlimit");
    server = await listen(scene.app, { hostname: "127.0.0.1", port: 0 });
  });
  afterAll(async () => {
    await server?.close();
    await scene?.origin.close();
  });

  it("answers an oversized chunked manifest with 413 MANIFEST_INVALID before it is sent", async () => {
    const headers = {
      authorization: `Bearer ${scene.writer}`,
      "content-type": "application/vnd.oci.image.manifest.v1+json",
      "transfer-encoding": "chunked",
    };
    const answer = await sendUntilAnswered(server.port, "PUT", `/v2/${scene.repo}/manifests/big`, headers, '{"schemaVersion": 2, "x": "');
    expect(answer.status).toBe(413);
    expect(answer.body.errors[0].code).toBe("MANIFEST_INVALID");
    expect(answer.sent).toBeLessThan(MAX_MANIFEST_BYTES + 32 * 1024 * 1024);
    const { rows } = await scene.origin.registry.sql.query(`SELECT 1 FROM tag WHERE repository_id = $1 AND name = 'big'`, [scene.repoId]);
    expect(rows).toEqual([]);
  });
});
