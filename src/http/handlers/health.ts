/**
 * `GET /health/instance`: Quay's instance health check, reporting each backing
 * service. 503 when the database is unreachable; a cache failure only degrades.
 */
import type { Context } from "hono";
import type { AppServices } from "../context.js";

async function healthy(check: () => Promise<unknown>): Promise<boolean> {
  try {
    await check();
    return true;
  } catch {
    return false;
  }
}

export function instanceHealth({ registry }: AppServices) {
  return async function instanceHealth(c: Context): Promise<Response> {
    const [database, cache] = await Promise.all([
      healthy(() => registry.sql.query("SELECT 1")),
      healthy(() => registry.cache.get("pier:health")),
    ]);
    const status = database ? 200 : 503;
    return c.json({ data: { services: { database, cache } }, status_code: status }, status);
  };
}
