import { ensureServices } from "./services.js";

/** Runs once before any test file: real PostgreSQL and Redis must be up. */
export default async function setup(): Promise<void> {
  await ensureServices();
}
