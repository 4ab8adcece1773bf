/**
 * Quay's service keys: public JWKs in `servicekey`, valid while approved and
 * unexpired. Instances that issue tokens create their own RSA key at boot (or resume
 * the one they kept), register it approved, and extend its expiry while they run
 * (Quay's instance-key lifecycle: 120 min expiry, refreshed every 55 min; deleted a
 * week after expiring), so any number of instances can verify each other's tokens.
 */
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from "jose";
import type { Clock } from "../ports/clock.js";
import { SingleFlight } from "../single-flight.js";
import type { Keys, SigningKey } from "../ports/keys.js";
import type { Queryable } from "../ports/sql.js";

/** Quay's INSTANCE_SERVICE_KEY_SERVICE. */
export const QUAY_SERVICE = "quay";
export const INSTANCE_KEY_LIFETIME_MS = 120 * 60_000;
export const INSTANCE_KEY_REFRESH_MS = 55 * 60_000;
/** Peewee stores the Enum member passed to a CharField as str(member). */
const AUTOMATIC_APPROVAL = "ServiceKeyApprovalType.AUTOMATIC";
/** Approved by the operator who ran the registration (Quay's "Super User API" approvals). */
const OPERATOR_APPROVAL = "ServiceKeyApprovalType.SUPERUSER";

export interface ServiceKeysOptions {
  sql: Queryable;
  clock: Clock;
  service?: string;
  /** How long a looked-up key (or its absence) is trusted before asking again. */
  cacheMs?: number;
  missCacheMs?: number;
}

/**
 * Verification keys from `servicekey`, cached per kid; concurrent misses share one query.
 * While the database cannot be read, a key verified before stays trusted until the
 * expiry it had then: revocation lives in the database, so it is honoured once it answers.
 */
export function serviceKeys(options: ServiceKeysOptions): Keys {
  const service = options.service ?? QUAY_SERVICE;
  const cacheMs = options.cacheMs ?? 60_000;
  const missCacheMs = options.missCacheMs ?? 10_000;
  const cache = new Map<string, { key: CryptoKey | null; until: number; expiresAt: number | null }>();
  const flights = new SingleFlight();

  async function load(kid: string): Promise<CryptoKey | null> {
    const now = options.clock.now();
    let rows: { jwk: string; expiration_date: Date | null }[];
    try {
      ({ rows } = await options.sql.query<{ jwk: string; expiration_date: Date | null }>(
        `SELECT jwk, expiration_date FROM servicekey
         WHERE kid = $1 AND service = $2 AND approval_id IS NOT NULL AND (expiration_date IS NULL OR expiration_date > $3)`,
        [kid, service, new Date(now)],
      ));
    } catch (error) {
      const known = cache.get(kid);
      if (!known?.key || (known.expiresAt !== null && known.expiresAt <= now)) throw error;
      // Asked again after the miss period, not by every request meanwhile (the database may hang).
      cache.set(kid, { ...known, until: now + missCacheMs });
      return known.key;
    }
    const key = rows[0] ? ((await importJWK(JSON.parse(rows[0].jwk) as JWK, "RS256")) as CryptoKey) : null;
    const expiresAt = rows[0]?.expiration_date?.getTime() ?? null;
    cache.set(kid, { key, until: now + (key ? cacheMs : missCacheMs), expiresAt });
    return key;
  }

  return {
    async verification(kid) {
      const cached = cache.get(kid);
      if (cached && cached.until > options.clock.now()) return cached.key;
      return flights.run(kid, () => load(kid));
    },
  };
}

export interface InstanceKey {
  signing: SigningKey;
  /** The private half, for runtimes that keep the key across restarts. */
  privateJwk: JWK;
  /** Pushes the key's expiry forward and drops stale keys; call every INSTANCE_KEY_REFRESH_MS. */
  refresh(): Promise<void>;
}

/** Quay's EXPIRED_SERVICE_KEY_TTL_SEC: how long an expired key stays before it is deleted. */
export const STALE_KEY_RETENTION_MS = 7 * 24 * 60 * 60_000;

/**
 * Deletes `quay` keys that expired more than a week ago, with their approvals (Quay's
 * _gc_expired), so the keys of instances that are gone do not pile up. Keys without
 * expiry (operator keys) stay.
 */
export async function deleteStaleServiceKeys(sql: Queryable, clock: Clock): Promise<void> {
  await sql.query(
    `WITH stale AS (DELETE FROM servicekey WHERE service = $1 AND expiration_date <= $2 RETURNING approval_id)
     DELETE FROM servicekeyapproval WHERE id IN (SELECT approval_id FROM stale)`,
    [QUAY_SERVICE, new Date(clock.now() - STALE_KEY_RETENTION_MS)],
  );
}

/** Inserts an approved public key into `servicekey` (service quay); returns its kid. */
async function registerServiceKey(
  sql: Queryable,
  clock: Clock,
  options: { name: string; publicJwk: JWK; approvalType: string; expiresAt: Date | null },
): Promise<string> {
  const kid = await calculateJwkThumbprint(options.publicJwk);
  const now = new Date(clock.now());
  const approval = await sql.query<{ id: number }>(
    `INSERT INTO servicekeyapproval (approver_id, approval_type, approved_date, notes) VALUES (NULL, $1, $2, '') RETURNING id`,
    [options.approvalType, now],
  );
  await sql.query(
    `INSERT INTO servicekey (name, kid, service, jwk, metadata, created_date, expiration_date, rotation_duration, approval_id)
     VALUES ($1, $2, $3, $4, '{}', $5, $6, NULL, $7)`,
    [
      options.name,
      kid,
      QUAY_SERVICE,
      JSON.stringify({ ...options.publicJwk, kid, alg: "RS256", use: "sig" }),
      now,
      options.expiresAt,
      approval.rows[0]!.id,
    ],
  );
  return kid;
}

function instanceKey(sql: Queryable, clock: Clock, privateKey: CryptoKey, privateJwk: JWK & { kid: string }): InstanceKey {
  const { kid } = privateJwk;
  return {
    signing: { kid, alg: "RS256", privateKey },
    privateJwk,
    async refresh() {
      // An operator's key without expiry (shared with the edge) keeps none.
      await sql.query(`UPDATE servicekey SET expiration_date = $1 WHERE kid = $2 AND expiration_date IS NOT NULL`, [
        new Date(clock.now() + INSTANCE_KEY_LIFETIME_MS),
        kid,
      ]);
      await deleteStaleServiceKeys(sql, clock);
    },
  };
}

/** Creates this instance's signing key and registers it approved, as Quay's boot does. */
export async function createInstanceKey(sql: Queryable, clock: Clock, name: string): Promise<InstanceKey> {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { modulusLength: 2048, extractable: true });
  await deleteStaleServiceKeys(sql, clock);
  const kid = await registerServiceKey(sql, clock, {
    name,
    publicJwk: await exportJWK(publicKey),
    approvalType: AUTOMATIC_APPROVAL,
    expiresAt: new Date(clock.now() + INSTANCE_KEY_LIFETIME_MS),
  });
  return instanceKey(sql, clock, privateKey as CryptoKey, { ...(await exportJWK(privateKey)), kid, alg: "RS256" });
}

/**
 * The key a previous start of this instance kept, if its row is still there and approved:
 * its expiry is extended and it signs again. Null when it was deleted or unapproved (an
 * operator revoked it, or it was removed a week after expiring): the caller makes a new one.
 */
export async function resumeInstanceKey(sql: Queryable, clock: Clock, privateJwk: JWK & { kid: string }): Promise<InstanceKey | null> {
  const { kid } = privateJwk;
  const { rows } = await sql.query(`SELECT 1 FROM servicekey WHERE kid = $1 AND service = $2 AND approval_id IS NOT NULL`, [
    kid,
    QUAY_SERVICE,
  ]);
  if (rows.length === 0) return null;
  const privateKey = (await importJWK(privateJwk, "RS256")) as CryptoKey;
  const key = instanceKey(sql, clock, privateKey, privateJwk);
  await key.refresh();
  return key;
}

/**
 * A long-lived signing key for runtimes that keep theirs in configuration (the edge's
 * `PIER_SIGNING_KEY`): registered approved, without expiry (the operator rotates it),
 * and returned as the private JWK the configuration takes.
 */
export async function createConfiguredSigningKey(sql: Queryable, clock: Clock, name: string): Promise<JWK> {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { modulusLength: 2048, extractable: true });
  const kid = await registerServiceKey(sql, clock, {
    name,
    publicJwk: await exportJWK(publicKey),
    approvalType: OPERATOR_APPROVAL,
    expiresAt: null,
  });
  return { ...(await exportJWK(privateKey)), kid, alg: "RS256" };
}

/**
 * A signing key from configuration (`PIER_SIGNING_KEY`): a private RSA JWK with its
 * `kid`, whose public half an operator registered approved in `servicekey`.
 */
export function signingKeyFromJwk(text: string): SigningKey {
  let jwk: JWK;
  try {
    jwk = JSON.parse(text) as JWK;
  } catch {
    throw new Error("PIER_SIGNING_KEY must be a JSON Web Key");
  }
  if (jwk.kty !== "RSA" || typeof jwk.d !== "string") throw new Error("PIER_SIGNING_KEY must be a private RSA JWK");
  if (typeof jwk.kid !== "string" || jwk.kid === "") throw new Error("PIER_SIGNING_KEY needs the kid it is registered under");
  return { kid: jwk.kid, alg: "RS256", privateKey: { ...jwk, alg: "RS256" } };
}
