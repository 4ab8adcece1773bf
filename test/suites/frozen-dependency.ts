/**
 * The "frozen dependency" case the port suites share: a subject built behind a fault
 * proxy (test/support/fault-proxy.ts) hands the proxy's controls over, and every call
 * made while the dependency is frozen must fail as unavailable within a bound.
 */
import { expect } from "vitest";
import { isDependencyUnavailable } from "../../src/core/errors/dependency-unavailable.js";

export interface FrozenDependency {
  freeze(): void;
  pass(): void;
  /** The adapter's configured bound; calls must fail well within 3× of it. */
  timeoutMs: number;
}

/** Runs `work` (against a frozen or exhausted dependency) and expects an "unavailable" failure in time; returns the time taken. */
export async function expectUnavailableInTime(timeoutMs: number, work: () => Promise<unknown>): Promise<number> {
  const started = Date.now();
  const outcome = await work().then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  const elapsed = Date.now() - started;
  expect(outcome, "a call to a frozen dependency must fail").toHaveProperty("error");
  const { error } = outcome as { error: unknown };
  expect(isDependencyUnavailable(error), `expected an unavailable error, got ${String(error)}`).toBe(true);
  expect(elapsed).toBeLessThan(3 * timeoutMs + 1_000);
  return elapsed;
}
