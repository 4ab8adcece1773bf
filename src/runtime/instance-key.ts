/**
 * A Node runtime's registry signing key: resumed from its key file when the key is still
 * registered (so restarts do not pile up keys), else created, registered and written
 * there (mode 0600); its expiry extended on Quay's schedule while the process lives.
 */
import { readFile, rename, writeFile } from "node:fs/promises";
import type { JWK } from "jose";
import { createInstanceKey, INSTANCE_KEY_REFRESH_MS, resumeInstanceKey, type InstanceKey } from "../core/auth/service-keys.js";
import type { Clock } from "../core/ports/clock.js";
import type { SigningKey } from "../core/ports/keys.js";
import type { Queryable } from "../core/ports/sql.js";

export interface InstanceKeyOptions {
  /** The key's `servicekey.name`: the instance's URL, as Quay names it. */
  name: string;
  /** Where the private JWK is kept across restarts; null for a new key on every start. */
  keyFile: string | null;
  onRefreshError: (error: unknown) => void;
}

/** The private JWK in `file`, or null when there is none yet. */
async function readKeyFile(file: string): Promise<(JWK & { kid: string }) | null> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
  let jwk: JWK | null = null;
  try {
    jwk = JSON.parse(text) as JWK;
  } catch {
    // reported below
  }
  if (jwk?.kty !== "RSA" || typeof jwk.d !== "string" || typeof jwk.kid !== "string") {
    throw new Error(`instance key file ${file} is not a private RSA JSON Web Key with its kid`);
  }
  return { ...jwk, kid: jwk.kid };
}

/** Replaces the file whole (a crash mid-write leaves the old key, never half a new one). */
async function writeKeyFile(file: string, jwk: JWK): Promise<void> {
  const partial = `${file}.${process.pid}.tmp`;
  await writeFile(partial, JSON.stringify(jwk) + "\n", { mode: 0o600 });
  await rename(partial, file);
}

async function resumeOrCreate(sql: Queryable, clock: Clock, options: InstanceKeyOptions): Promise<InstanceKey> {
  const { keyFile } = options;
  if (keyFile === null) return createInstanceKey(sql, clock, options.name);
  const kept = await readKeyFile(keyFile);
  if (kept !== null) {
    const resumed = await resumeInstanceKey(sql, clock, kept);
    if (resumed !== null) return resumed;
  }
  const created = await createInstanceKey(sql, clock, options.name);
  await writeKeyFile(keyFile, created.privateJwk);
  return created;
}

export async function startInstanceKey(
  sql: Queryable,
  clock: Clock,
  options: InstanceKeyOptions,
): Promise<{ signing: SigningKey; privateJwk: JWK; stop(): void }> {
  const key = await resumeOrCreate(sql, clock, options);
  const timer = setInterval(() => key.refresh().catch(options.onRefreshError), INSTANCE_KEY_REFRESH_MS);
  timer.unref();
  return { signing: key.signing, privateJwk: key.privateJwk, stop: () => clearInterval(timer) };
}
