/**
 * A client that keeps only the path of every upload `Location` (as the OCI conformance
 * suite's does, which the spec allows) pushes through the edge: the bundled Worker under
 * Miniflare (HTTPS) answers each bytes-carrying request with a 307 to the Node origin,
 * which the client follows with the same method and body. Every request to the edge
 * goes over one keep-alive connection, so a response that left a body unread (workerd
 * then resets the connection) fails the next request, as it failed Go's client.
 */
import { createHash } from "node:crypto";
import http, { type IncomingHttpHeaders } from "node:http";
import https from "node:https";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodePostgresSql } from "../../src/adapters/sql/node-postgres.js";
import { hashPassword } from "../../src/core/auth/passwords.js";
import { MediaType } from "../../src/core/model/media-types.js";
import type { EdgeServer } from "../support/edge-server.js";
import { startLocalStack, type LocalStack } from "../support/gateways.js";
import { startEdgeWithOrigin, type OriginProcess } from "../support/origin-process.js";
import { createNamespace, randomBytes, unique } from "../support/quay-seed.js";

const user = unique("pathonly");
const password = `pw-${crypto.randomUUID()}`;
const repository = `${user}/app`;

let stack: LocalStack;
let origin: OriginProcess;
let edge: EdgeServer;
let token: string;

const agents = { http: new http.Agent({ keepAlive: true, maxSockets: 1 }), https: new https.Agent({ keepAlive: true, maxSockets: 1 }) };
/** Sockets each host's agent opened: one per host while keep-alive holds. */
const socketsOpened = new Map<string, number>();
const seenSockets = new WeakSet<object>();

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

function send(method: string, url: string, body: Buffer | null, headers: Record<string, string> = {}): Promise<Reply> {
  const target = new URL(url);
  const secure = target.protocol === "https:";
  return new Promise((resolve, reject) => {
    const request = (secure ? https : http).request(
      target,
      {
        method,
        agent: secure ? agents.https : agents.http,
        rejectUnauthorized: false,
        headers: { ...headers, ...(body === null ? {} : { "content-length": String(body.byteLength) }) },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => resolve({ status: response.statusCode!, headers: response.headers, body: Buffer.concat(chunks) }));
        response.on("error", reject);
      },
    );
    request.on("socket", (socket) => {
      if (seenSockets.has(socket)) return;
      seenSockets.add(socket);
      socketsOpened.set(target.host, (socketsOpened.get(target.host) ?? 0) + 1);
    });
    request.on("error", (error) => reject(new Error(`${method} ${url}: ${error.message}`)));
    request.end(body ?? undefined);
  });
}

/**
 * One request to the edge by path, following 307/308 with the same method and body and
 * the same Authorization (Go keeps it for the same host name on another port).
 */
async function edgeRequest(method: string, path: string, body: Buffer | null = null, headers: Record<string, string> = {}): Promise<Reply> {
  const auth = { authorization: `Bearer ${token}`, ...headers };
  let reply = await send(method, `${edge.url}${path}`, body, auth);
  for (let hops = 0; (reply.status === 307 || reply.status === 308) && hops < 3; hops++) {
    reply = await send(method, new URL(reply.headers.location!, edge.url).toString(), body, auth);
  }
  return reply;
}

/** The path (and query) of a Location: all this client keeps. */
function pathOf(location: string | undefined): string {
  expect(location).toBeTruthy();
  const url = new URL(location!, edge.url);
  return `${url.pathname}${url.search}`;
}

const sha256 = (bytes: Uint8Array) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

beforeAll(async () => {
  stack = await startLocalStack("pathonly");
  const sql = nodePostgresSql(stack.bindings.DATABASE_URL);
  try {
    const id = await createNamespace({ sql, blobs: null as never }, user);
    await sql.query(`UPDATE "user" SET password_hash = $1 WHERE id = $2`, [await hashPassword(password), id]);
  } finally {
    await sql.close();
  }
  const started = await startEdgeWithOrigin(stack.bindings);
  ({ edge, origin } = started);
  // The origin issues the token (the edge has no signing key here); both accept it.
  const query = new URLSearchParams({ service: started.edgeHost, scope: `repository:${repository}:pull,push` });
  const reply = await send("GET", `${origin.url}/v2/auth?${query}`, null, {
    authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`,
  });
  expect(reply.status, reply.body.toString()).toBe(200);
  token = (JSON.parse(reply.body.toString()) as { token: string }).token;
}, 120_000);

afterAll(async () => {
  agents.http.destroy();
  agents.https.destroy();
  await edge?.close();
  await origin?.close();
  await stack?.close();
});

describe("pushing through the edge with a client that keeps only Location paths", () => {
  const chunks = [randomBytes(300_000), randomBytes(1_200_000), randomBytes(70_000)];
  const layer = Buffer.concat(chunks);
  const monolithic = Buffer.from(randomBytes(200_000));
  const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] } }));

  it("uploads in chunks: each PATCH and the final PUT are redirected to the origin with their bodies", async () => {
    const started = await edgeRequest("POST", `/v2/${repository}/blobs/uploads/`);
    expect(started.status).toBe(202);
    let location = pathOf(started.headers.location);
    let offset = 0;
    for (const chunk of chunks.slice(0, 2)) {
      const reply = await edgeRequest("PATCH", location, Buffer.from(chunk), {
        "content-type": "application/octet-stream",
        "content-range": `${offset}-${offset + chunk.byteLength - 1}`,
      });
      expect(reply.status, reply.body.toString()).toBe(202);
      offset += chunk.byteLength;
      expect(reply.headers.range).toBe(`0-${offset - 1}`);
      location = pathOf(reply.headers.location);
    }
    const separator = location.includes("?") ? "&" : "?";
    const done = await edgeRequest("PUT", `${location}${separator}digest=${sha256(layer)}`, Buffer.from(chunks[2]!), {
      "content-type": "application/octet-stream",
    });
    expect(done.status, done.body.toString()).toBe(201);
    expect(done.headers["docker-content-digest"]).toBe(sha256(layer));
  });

  it("stores a monolithic POST ?digest= body instead of dropping it", async () => {
    const reply = await edgeRequest("POST", `/v2/${repository}/blobs/uploads/?digest=${sha256(monolithic)}`, monolithic, {
      "content-type": "application/octet-stream",
    });
    expect(reply.status, reply.body.toString()).toBe(201);
    expect(reply.headers["docker-content-digest"]).toBe(sha256(monolithic));
    const stored = await edgeRequest("POST", `/v2/${repository}/blobs/uploads/?digest=${sha256(config)}`, config);
    expect(stored.status).toBe(201);
  });

  it("serves what was uploaded: HEAD sizes, manifest PUT and GET by the edge", async () => {
    for (const [digest, size] of [
      [sha256(layer), layer.byteLength],
      [sha256(monolithic), monolithic.byteLength],
    ] as const) {
      const head = await edgeRequest("HEAD", `/v2/${repository}/blobs/${digest}`);
      expect(head.status).toBe(200);
      expect(head.headers["content-length"]).toBe(String(size));
    }
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.ociManifest,
        config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha256(config), size: config.byteLength },
        layers: [layer, monolithic].map((bytes) => ({
          mediaType: "application/vnd.oci.image.layer.v1.tar",
          digest: sha256(bytes),
          size: bytes.byteLength,
        })),
      }),
    );
    const put = await edgeRequest("PUT", `/v2/${repository}/manifests/v1`, manifest, { "content-type": MediaType.ociManifest });
    expect(put.status, put.body.toString()).toBe(201);
    const got = await edgeRequest("GET", `/v2/${repository}/manifests/v1`, null, { accept: MediaType.ociManifest });
    expect(got.status).toBe(200);
    expect(sha256(got.body)).toBe(sha256(manifest));
  });

  it("kept one connection to the edge for the whole push: no response left a body unread", () => {
    expect(socketsOpened.get(edge.host)).toBe(1);
  });

  it("challenges a request without a token at the edge, drains its body and keeps the connection", async () => {
    const body = Buffer.from(randomBytes(150_000));
    const refused = await send("PATCH", `${edge.url}/v2/${repository}/blobs/uploads/${crypto.randomUUID()}`, body);
    expect(refused.status).toBe(401);
    expect(refused.headers["www-authenticate"]).toContain(`scope="repository:${repository}:pull,push"`);
    const next = await edgeRequest("GET", `/v2/${repository}/tags/list`);
    expect(next.status).toBe(200);
    expect(socketsOpened.get(edge.host)).toBe(1);
  });
});
