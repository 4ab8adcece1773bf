/**
 * Seeding for edge tests of the proxy cache: a cache organization in Quay's rows (plus
 * Pier's anonymous-pulls option) and a registered service key handed to the edge as its
 * PIER_SIGNING_KEY secret, so the edge issues tokens itself.
 */
import { KeyObject } from "node:crypto";
import { createInstanceKey } from "../../src/core/auth/service-keys.js";
import { systemClock } from "../../src/core/ports/clock.js";
import type { Queryable } from "../../src/core/ports/sql.js";

/** An organization caching `upstreamHost` (insecure: plain HTTP) that anonymous clients may pull from; its id. */
export async function createAnonymousCacheOrganization(sql: Queryable, name: string, upstreamHost: string): Promise<number> {
  const { rows } = await sql.query<{ id: number }>(
    `INSERT INTO "user" (uuid, username, email, verified, organization, robot, invoice_email, last_invalid_login, removed_tag_expiration_s, enabled, creation_date)
     VALUES ($1, $2, $3, true, true, false, false, now(), 1209600, true, now()) RETURNING id`,
    [crypto.randomUUID(), name, `${name}@example.com`],
  );
  const id = rows[0]!.id;
  await sql.query(
    `INSERT INTO proxycacheconfig (organization_id, creation_date, upstream_registry, expiration_s, insecure) VALUES ($1, now(), $2, 3600, true)`,
    [id, upstreamHost],
  );
  await sql.query(`INSERT INTO pier.proxy_cache_option (organization_id, anonymous_pulls) VALUES ($1, true)`, [id]);
  return id;
}

/** A new registered service key, as the JWK (with its kid and alg) the edge reads from PIER_SIGNING_KEY. */
export async function edgeSigningKeySecret(sql: Queryable, name: string): Promise<string> {
  const key = await createInstanceKey(sql, systemClock, name);
  const jwk = KeyObject.from(key.signing.privateKey as CryptoKey).export({ format: "jwk" });
  return JSON.stringify({ ...jwk, kid: key.signing.kid, alg: key.signing.alg });
}
