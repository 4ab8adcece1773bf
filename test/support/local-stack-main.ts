/**
 * The local stack as its own process, for the workerd test project: its global setup
 * runs under the Worker project's module resolution, where Node-only packages
 * (ioredis, ws) do not load. Prints `READY <bindings JSON>`; stops and drops the test
 * database on SIGTERM or when stdin closes.
 */
import { onShutdownSignal } from "../../src/runtime/node-server.js";
import { startLocalStack } from "./gateways.js";
import { ensureServices } from "./services.js";

await ensureServices();
const stack = await startLocalStack(process.argv[2] ?? "stack");
console.log(`READY ${JSON.stringify(stack.bindings)}`);

onShutdownSignal(() => stack.close());
// The parent test run may also just go away: its end of stdin closes.
process.stdin.on("end", () => process.kill(process.pid, "SIGTERM"));
process.stdin.resume();
