import type { TestProject } from "vitest/node";
import type { EdgeBindings } from "../support/gateways.js";
import { spawnEntry } from "../support/process.js";

/** Starts the gateways the Worker under test reaches (in a child process), and hands it their addresses. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const stack = spawnEntry("test/support/local-stack-main.ts", {}, ["workerd"]);
  const ready = await stack.waitFor(/READY (\{.*\})\n/, 60_000);
  project.provide("edgeBindings", JSON.parse(ready[1]!) as EdgeBindings);
  return async () => {
    stack.child.kill("SIGTERM");
    await stack.exited;
  };
}
