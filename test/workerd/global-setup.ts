import type { TestProject } from "vitest/node";
import { startLocalStack } from "../support/gateways.js";
import { ensureServices } from "../support/services.js";

/** Starts the gateways the Worker under test reaches, and hands it their addresses. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  await ensureServices();
  const stack = await startLocalStack("workerd");
  project.provide("edgeBindings", stack.bindings);
  return () => stack.close();
}
