/**
 * The local stack as its own process, for the workerd test project: its global setup
 * runs under the Worker project's module resolution, where Node-only packages
 * (ioredis, ws) do not load. Prints `READY <bindings JSON>`; stops and drops the test
 * database on SIGTERM or when stdin closes.
 */
import { startLocalStack } from "./gateways.js";
import { ensureServices } from "./services.js";

await ensureServices();
const stack = await startLocalStack(process.argv[2] ?? "stack");
console.log(`READY ${JSON.stringify(stack.bindings)}`);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await stack.close();
  process.exit(0);
}
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
process.stdin.on("end", stop);
process.stdin.resume();
