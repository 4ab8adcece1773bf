/**
 * All local stand-ins for the edge's managed services at once — Neon HTTP, Neon
 * WebSocket, Upstash REST and the verifying S3 server — and the Worker bindings
 * that point at them. Used by `npm run dev`, `npm run gateways` and the workerd tests.
 */
import { mkdir } from "node:fs/promises";
import { resolve } from "node:path";
import { startNeonHttpGateway } from "./neon-http.js";
import { startNeonWsProxy } from "./neon-ws.js";
import { startS3Server } from "./s3.js";
import { startUpstashGateway } from "./upstash.js";

/** Bindings the edge Worker reads (see workers/edge.ts and wrangler.toml). */
export interface EdgeBindings {
  DATABASE_URL: string;
  NEON_FETCH_ENDPOINT: string;
  NEON_WS_PROXY: string;
  UPSTASH_REDIS_REST_URL: string;
  UPSTASH_REDIS_REST_TOKEN: string;
  S3_ENDPOINT: string;
  S3_BUCKET: string;
  S3_REGION: string;
  S3_ACCESS_KEY_ID: string;
  S3_SECRET_ACCESS_KEY: string;
}

export interface GatewayStackOptions {
  databaseUrl: string;
  redisUrl: string;
  /** Directory the S3 server keeps objects in. */
  s3Root: string;
  /** Fixed ports (development); ephemeral when omitted (tests). */
  ports?: { neonHttp: number; neonWs: number; upstash: number; s3: number };
  upstashToken?: string;
  s3Credentials?: { accessKeyId: string; secretAccessKey: string };
}

export interface GatewayStack {
  bindings: EdgeBindings;
  close(): Promise<void>;
}

export async function startGatewayStack(options: GatewayStackOptions): Promise<GatewayStack> {
  const upstashToken = options.upstashToken ?? crypto.randomUUID();
  const credentials = options.s3Credentials ?? { accessKeyId: "pier-local", secretAccessKey: crypto.randomUUID() };
  const [neonHttp, neonWs, upstash, s3] = await Promise.all([
    startNeonHttpGateway({ port: options.ports?.neonHttp }),
    startNeonWsProxy({ port: options.ports?.neonWs }),
    startUpstashGateway({ port: options.ports?.upstash, token: upstashToken, redisUrl: options.redisUrl }),
    startS3Server({ port: options.ports?.s3, root: options.s3Root, bucket: "pier", region: "us-east-1", ...credentials }),
  ]);
  return {
    bindings: {
      DATABASE_URL: options.databaseUrl,
      NEON_FETCH_ENDPOINT: neonHttp.url,
      NEON_WS_PROXY: `127.0.0.1:${neonWs.port}/v1`,
      UPSTASH_REDIS_REST_URL: upstash.url,
      UPSTASH_REDIS_REST_TOKEN: upstashToken,
      S3_ENDPOINT: s3.endpoint,
      S3_BUCKET: "pier",
      S3_REGION: "us-east-1",
      S3_ACCESS_KEY_ID: credentials.accessKeyId,
      S3_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    },
    async close() {
      await Promise.all([neonHttp.close(), neonWs.close(), upstash.close(), s3.close()]);
    },
  };
}

/**
 * `npm run dev` and `npm run gateways`: fixed ports (`basePort` and the three after it,
 * default 4444; 0 for ephemeral ones) and local credentials, objects under `s3Root`
 * (default data/dev/s3).
 */
export async function startDevGatewayStack(
  databaseUrl: string,
  redisUrl: string,
  options: { s3Root?: string; basePort?: number } = {},
): Promise<GatewayStack> {
  const s3Root = options.s3Root ?? resolve("data/dev/s3");
  const base = options.basePort ?? 4444;
  await mkdir(s3Root, { recursive: true });
  return startGatewayStack({
    databaseUrl,
    redisUrl,
    s3Root,
    ports: base === 0 ? undefined : { neonHttp: base, neonWs: base + 1, upstash: base + 2, s3: base + 3 },
    upstashToken: "pier-local-token",
    s3Credentials: { accessKeyId: "pier-local", secretAccessKey: "pier-local-secret" },
  });
}
