/**
 * Upload bytes sent to the edge inside workerd: the Worker takes none, so every
 * bytes-carrying request is answered with a 307 (method and body kept) to the same path
 * on PIER_ORIGIN_URL — never a 405, never a 202 that drops the body — and the body a
 * response left unread is drained, up to PIER_EDGE_DRAIN_BYTES.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { issueRegistryToken } from "../../src/core/auth/registry-tokens.js";
import { createInstanceKey, type InstanceKey } from "../../src/core/auth/service-keys.js";
import { systemClock } from "../../src/core/ports/clock.js";
import worker, { edgeRegistry } from "../../workers/edge.js";
import { createNamespace, unique } from "../support/quay-seed.js";

const HOST = "registry.example";
const ORIGIN = "https://origin.registry.example";
const edgeEnv = { ...env, PIER_ORIGIN_URL: ORIGIN, PIER_EDGE_DRAIN_BYTES: "65536" };
const base = edgeRegistry(env);
const user = unique("edgeup");
const repository = `${user}/app`;
let key: InstanceKey;
let token: string;

/** A body that records how far it was read. */
function countedBody(size: number): { body: ReadableStream<Uint8Array>; read(): number } {
  let read = 0;
  const piece = new Uint8Array(16_384);
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (read >= size) return controller.close();
      const chunk = piece.subarray(0, Math.min(piece.byteLength, size - read));
      read += chunk.byteLength;
      controller.enqueue(chunk);
    },
  });
  return { body, read: () => read };
}

async function edgeFetch(method: string, path: string, body: ReadableStream<Uint8Array> | null, auth = true): Promise<Response> {
  const request = new Request(`https://${HOST}${path}`, {
    method,
    body,
    headers: auth ? { authorization: `Bearer ${token}` } : {},
    ...(body ? { duplex: "half" } : {}),
  } as RequestInit);
  const ctx = { waitUntil() {}, passThroughOnException() {} };
  return worker.fetch(request, edgeEnv, ctx as never);
}

async function sessionCount(): Promise<number> {
  const { rows } = await base.sql.query<{ n: string }>(
    `SELECT count(*)::text AS n FROM blobupload b JOIN repository r ON r.id = b.repository_id
     JOIN "user" u ON u.id = r.namespace_user_id WHERE u.username = $1`,
    [user],
  );
  return Number(rows[0]!.n);
}

beforeAll(async () => {
  key = await createInstanceKey(base.sql, systemClock, "edge-uploads-test");
  await createNamespace({ sql: base.sql, blobs: base.blobs }, user);
  token = await issueRegistryToken(key.signing, systemClock, {
    audience: HOST,
    subject: user,
    access: [{ type: "repository", name: repository, actions: ["pull", "push"] }],
    context: {},
  });
});

describe("upload bytes at the edge", () => {
  it("opens a session itself and hands out the origin's Location", async () => {
    const response = await edgeFetch("POST", `/v2/${repository}/blobs/uploads/`, null);
    expect(response.status).toBe(202);
    expect(response.headers.get("Location")).toMatch(new RegExp(`^${ORIGIN}/v2/${repository}/blobs/uploads/[0-9a-f-]{36}$`));
  });

  it("redirects PATCH and PUT with 307 to the same path and query on the origin, reading the body to its end", async () => {
    const uuid = crypto.randomUUID();
    for (const [method, path] of [
      ["PATCH", `/v2/${repository}/blobs/uploads/${uuid}`],
      ["PUT", `/v2/${repository}/blobs/uploads/${uuid}?digest=sha256:${"a".repeat(64)}`],
    ] as const) {
      const body = countedBody(40_000);
      const response = await edgeFetch(method, path, body.body);
      expect(response.status).toBe(307);
      expect(response.headers.get("Location")).toBe(`${ORIGIN}${path}`);
      expect(body.read()).toBe(40_000);
    }
  });

  it("redirects a monolithic POST ?digest= with its body and opens no session that would drop it", async () => {
    const before = await sessionCount();
    const path = `/v2/${repository}/blobs/uploads/?digest=sha256:${"b".repeat(64)}`;
    const response = await edgeFetch("POST", path, countedBody(1000).body);
    expect(response.status).toBe(307);
    expect(response.headers.get("Location")).toBe(`${ORIGIN}${path}`);
    expect(await sessionCount()).toBe(before);
  });

  it("challenges a caller without a token before redirecting anything", async () => {
    const response = await edgeFetch("PATCH", `/v2/${repository}/blobs/uploads/${crypto.randomUUID()}`, countedBody(10).body, false);
    expect(response.status).toBe(401);
    expect(response.headers.get("WWW-Authenticate")).toContain(`scope="repository:${repository}:pull,push"`);
  });

  it("drains unread bodies only up to PIER_EDGE_DRAIN_BYTES", async () => {
    const body = countedBody(10_000_000);
    const response = await edgeFetch("PATCH", `/v2/${repository}/blobs/uploads/${crypto.randomUUID()}`, body.body);
    expect(response.status).toBe(307);
    expect(body.read()).toBeGreaterThan(65_536);
    expect(body.read()).toBeLessThan(200_000);
  });
});
