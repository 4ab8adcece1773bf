/**
 * The local stack as its own process, for the workerd test project: its global setup
 * runs under the Worker project's module resolution, where Node-only packages
 * (ioredis, ws) do not load. Prints `READY <bindings JSON>`; stops and drops the test
 * database on SIGTERM or when stdin closes.
 */
import { onShutdownSignal } from "../../src/runtime/node-server.js";
import { startLocalStack } from "./gateways.js";
import { ensureServices } from "./services.js";
import { pushImage, startUpstreamRegistry } from "./upstream-registry.js";

await ensureServices();
const stack = await startLocalStack(process.argv[2] ?? "stack");
// A real upstream for the edge's mirror sync (test/workerd/repo-mirror.test.ts): workerd cannot start one.
const upstream = await startUpstreamRegistry();
// A layer of several MiB arrives in many chunks, so the edge's streamed hashing is really exercised.
const image = await pushImage(upstream.url, "team/app", "v1", { layerSizes: [3 * 1024 * 1024 + 17, 1000] });
const mirrorBindings = {
  MIRROR_UPSTREAM_HOST: upstream.host,
  MIRROR_UPSTREAM_DIGEST: image.digest,
  MIRROR_UPSTREAM_LAYERS: image.layers.map((layer) => `${layer.digest}=${layer.bytes.byteLength}`).join(","),
};
console.log(`READY ${JSON.stringify({ ...stack.bindings, ...mirrorBindings })}`);

onShutdownSignal(async () => {
  await Promise.all([stack.close(), upstream.close()]);
});
// The parent test run may also just go away: its end of stdin closes.
process.stdin.on("end", () => process.kill(process.pid, "SIGTERM"));
process.stdin.resume();
