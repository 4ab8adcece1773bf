/**
 * Starting a Node runtime the way an operator wants to read it: a failure is one line
 * saying what went wrong and how to fix it (exit 1), not a stack trace; a database that
 * is not up yet is waited for, with backoff, before anything else starts.
 */
import { ConfigError } from "../core/config.js";
import { sleep } from "../core/single-flight.js";

/** A startup failure whose message already says what to do. */
export class StartupError extends Error {
  override name = "StartupError";
}

const CONNECTION_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "ENOTFOUND", "EAI_AGAIN", "57P03"]);

/** Whether `error` (or its cause) says the database could not be reached, as opposed to refusing what we sent. */
export function isConnectionFailure(error: unknown): boolean {
  for (let current = error as { code?: unknown; cause?: unknown; errors?: unknown } | undefined; current;) {
    // Node's socket errors, and SQLSTATE class 08 (connection exception) from the SQL adapters.
    if (typeof current.code === "string" && (CONNECTION_CODES.has(current.code) || /^08[0-9A-Z]{3}$/.test(current.code))) return true;
    if (Array.isArray(current.errors) && current.errors.some(isConnectionFailure)) return true;
    current = current.cause as typeof current;
  }
  return false;
}

/** Where the runtime meant to listen, as configured (raw: the setting itself may be what is wrong). */
export interface ListenContext {
  host: string;
  port: string;
}

/** The one line an operator reads for a failed start. */
export function describeStartupFailure(error: unknown, context: ListenContext): string {
  const code = (error as { code?: unknown }).code;
  if (code === "EADDRINUSE") return `port ${context.port} on ${context.host} is in use: stop the other process or set PORT`;
  if (code === "EACCES") return `port ${context.port} on ${context.host} needs privileges this process lacks: choose another PORT`;
  if (code === "EADDRNOTAVAIL") return `${context.host} is not an address of this machine: fix PIER_HOST`;
  if (error instanceof ConfigError) return `configuration error: ${error.message}`;
  if (error instanceof StartupError) return error.message;
  return `could not start: ${error instanceof Error ? error.message : String(error)}`;
}

/**
 * Runs `start(undo)`; on failure runs what was registered with `undo` (newest first: a
 * data-directory lock released, a database closed), prints `Pier <runtime>: <one line>`
 * (the stack too with PIER_DEBUG=true) and exits 1.
 */
export async function runStartup(
  runtime: string,
  context: ListenContext,
  start: (undo: (step: () => Promise<void>) => void) => Promise<void>,
): Promise<void> {
  const steps: (() => Promise<void>)[] = [];
  try {
    await start((step) => steps.unshift(step));
  } catch (error) {
    for (const step of steps) await step().catch(() => {});
    console.error(`Pier ${runtime}: ${describeStartupFailure(error, context)}`);
    if (process.env.PIER_DEBUG === "true") console.error(error);
    process.exit(1);
  }
}

/**
 * Calls `connect` until it succeeds, waiting 0.5 s, 1 s, 2 s … (at most 5 s) between tries
 * while the failure is a connection failure, for at most `totalMs`; then StartupError.
 */
export async function waitForDatabase<T>(
  connect: () => Promise<T>,
  options: { totalMs: number; describe: string; log: (line: string) => void },
): Promise<T> {
  const deadline = Date.now() + options.totalMs;
  for (let delay = 500, attempt = 1; ; attempt++, delay = Math.min(delay * 2, 5_000)) {
    try {
      return await connect();
    } catch (error) {
      if (!isConnectionFailure(error)) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      if (Date.now() + delay > deadline) {
        throw new StartupError(
          `cannot reach the database at ${options.describe} (${reason}): check DATABASE_URL and that PostgreSQL is running`,
        );
      }
      if (attempt === 1) options.log(`waiting for the database at ${options.describe} (${reason}) …`);
      await sleep(delay);
    }
  }
}
