/**
 * A Node runtime's registry signing key: created and registered at boot, its expiry
 * extended on Quay's schedule while the process lives.
 */
import { createInstanceKey, INSTANCE_KEY_REFRESH_MS } from "../core/auth/service-keys.js";
import type { Clock } from "../core/ports/clock.js";
import type { SigningKey } from "../core/ports/keys.js";
import type { Queryable } from "../core/ports/sql.js";

export async function startInstanceKey(
  sql: Queryable,
  clock: Clock,
  name: string,
  onRefreshError: (error: unknown) => void,
): Promise<{ signing: SigningKey; stop(): void }> {
  const key = await createInstanceKey(sql, clock, name);
  const timer = setInterval(() => key.refresh().catch(onRefreshError), INSTANCE_KEY_REFRESH_MS);
  timer.unref();
  return { signing: key.signing, stop: () => clearInterval(timer) };
}
