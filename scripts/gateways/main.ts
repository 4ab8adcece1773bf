/**
 * `npm run gateways`: only the local stand-ins for Neon (HTTP and WebSocket), Upstash
 * and S3, on the same fixed ports and credentials as `npm run dev`, for running the
 * Worker (or anything else) against them by hand. Prints the Worker bindings as
 * `NAME=value` lines (the format of `.dev.vars`) and stops on Ctrl-C or SIGTERM.
 */
import { mkdir } from "node:fs/promises";
import { resolve } from "node:path";
import { startGatewayStack } from "./stack.js";

const databaseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/pier_dev";
const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const s3Root = resolve("data/dev-s3");
await mkdir(s3Root, { recursive: true });

const stack = await startGatewayStack({
  databaseUrl,
  redisUrl,
  s3Root,
  ports: { neonHttp: 4444, neonWs: 4445, upstash: 4446, s3: 4447 },
  upstashToken: "pier-local-token",
  s3Credentials: { accessKeyId: "pier-local", secretAccessKey: "pier-local-secret" },
});
for (const [name, value] of Object.entries(stack.bindings)) console.log(`${name}=${value}`);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await stack.close();
  process.exit(0);
}
process.once("SIGINT", stop);
process.once("SIGTERM", stop);
