/**
 * `npm run gateways`: only the local stand-ins for Neon (HTTP and WebSocket), Upstash
 * and S3, on the same fixed ports and credentials as `npm run dev`, for running the
 * Worker (or anything else) against them by hand. Prints the Worker bindings as
 * `NAME=value` lines (the format of `.dev.vars`) and stops on Ctrl-C or SIGTERM.
 */
import { onShutdownSignal } from "../../src/runtime/node-server.js";
import { startDevGatewayStack } from "./stack.js";

const databaseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/pier_dev";
const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const stack = await startDevGatewayStack(databaseUrl, redisUrl);
onShutdownSignal(() => stack.close());
for (const [name, value] of Object.entries(stack.bindings)) console.log(`${name}=${value}`);
