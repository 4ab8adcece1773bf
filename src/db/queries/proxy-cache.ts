/**
 * Cache organizations: Quay's `proxycacheconfig` row (data/model/proxy_cache.py) and
 * Pier's `pier.proxy_cache_option` beside it. The option table may be missing on a
 * database no Pier of this version has migrated yet; it is then read as "no options".
 */
import type { Queryable } from "../../core/ports/sql.js";
import { textArray } from "./arrays.js";
import { tableExists } from "./optional-tables.js";

/** A cache organization's configuration; credentials still encrypted (Quay's `v0$$…`). */
export interface ProxyCacheConfig {
  organizationId: number;
  /** The organization's name. */
  namespace: string;
  /** As stored: `host[:port]`, optionally `/namespace…`. */
  upstreamRegistry: string;
  /** How long a cached tag stays fresh; 0: forever. */
  expirationSeconds: number;
  insecure: boolean;
  username: string | null;
  password: string | null;
  /** Pier's extension: anyone may pull (and so fill) through this organization. */
  anonymousPulls: boolean;
}

interface ConfigRow {
  organization_id: number;
  namespace: string;
  upstream_registry: string;
  expiration_s: number | null;
  insecure: boolean;
  upstream_registry_username: string | null;
  upstream_registry_password: string | null;
  anonymous_pulls: boolean | null;
}

const OPTIONS = "pier.proxy_cache_option";
/** Connections that have seen the option table; it is never dropped, so a positive answer stays true. */
const optionsSeen = new WeakSet<Queryable>();

async function optionsPresent(sql: Queryable): Promise<boolean> {
  if (optionsSeen.has(sql)) return true;
  const present = await tableExists(sql, OPTIONS);
  if (present) optionsSeen.add(sql);
  return present;
}

async function selectConfigs(sql: Queryable, where: string, params: readonly (string | number)[]): Promise<ProxyCacheConfig[]> {
  const withOptions = await optionsPresent(sql);
  const { rows } = await sql.query<ConfigRow>(
    `SELECT DISTINCT ON (u.id) u.id AS organization_id, u.username AS namespace, p.upstream_registry, p.expiration_s, p.insecure,
            p.upstream_registry_username, p.upstream_registry_password,
            ${withOptions ? "o.anonymous_pulls" : "NULL::boolean AS anonymous_pulls"}
     FROM proxycacheconfig p JOIN "user" u ON u.id = p.organization_id
     ${withOptions ? `LEFT JOIN ${OPTIONS} o ON o.organization_id = u.id` : ""}
     WHERE ${where}
     ORDER BY u.id, p.id`,
    params,
  );
  return rows.map((row) => ({
    organizationId: row.organization_id,
    namespace: row.namespace,
    upstreamRegistry: row.upstream_registry,
    expirationSeconds: row.expiration_s ?? 86_400,
    insecure: row.insecure,
    username: row.upstream_registry_username,
    password: row.upstream_registry_password,
    anonymousPulls: row.anonymous_pulls ?? false,
  }));
}

/** The cache configuration of organization `namespaceName`, or null when it is not a cache. */
export async function findProxyCacheConfig(sql: Queryable, namespaceName: string): Promise<ProxyCacheConfig | null> {
  const [config] = await selectConfigs(sql, "u.username = $1 AND u.organization", [namespaceName]);
  return config ?? null;
}

/** Cache organizations whose upstream host (before the first "/") is one of `hosts` (case-insensitive), oldest first. */
export async function findProxyCacheByHost(sql: Queryable, hosts: readonly string[]): Promise<ProxyCacheConfig[]> {
  return selectConfigs(sql, "lower(split_part(p.upstream_registry, '/', 1)) = ANY($1::varchar[]) AND u.organization", [
    textArray(hosts.map((h) => h.toLowerCase())),
  ]);
}

/** The upstream of cache organization `namespaceName`, or null: the one cheap question a write asks. */
export async function findProxyCacheUpstream(sql: Queryable, namespaceName: string): Promise<string | null> {
  const { rows } = await sql.query<{ upstream_registry: string }>(
    `SELECT p.upstream_registry FROM proxycacheconfig p JOIN "user" u ON u.id = p.organization_id
     WHERE u.username = $1 ORDER BY p.id LIMIT 1`,
    [namespaceName],
  );
  return rows[0]?.upstream_registry ?? null;
}

/** Whether organization `organizationId` has a proxycacheconfig row; locks the organization's row so two creations serialise. */
export async function lockProxyCacheConfig(tx: Queryable, organizationId: number): Promise<boolean> {
  await tx.query(`SELECT id FROM "user" WHERE id = $1 FOR UPDATE`, [organizationId]);
  const { rows } = await tx.query(`SELECT 1 FROM proxycacheconfig WHERE organization_id = $1`, [organizationId]);
  return rows.length > 0;
}

/** A proxycacheconfig row to insert; credentials already encrypted. */
export interface NewProxyCacheConfig {
  organizationId: number;
  upstreamRegistry: string;
  username: string | null;
  password: string | null;
  expirationSeconds: number;
  insecure: boolean;
  now: Date;
}

/** Writes the organization's proxycacheconfig row as Quay's create_proxy_cache_config does. */
export async function insertProxyCacheConfig(tx: Queryable, row: NewProxyCacheConfig): Promise<void> {
  await tx.query(
    `INSERT INTO proxycacheconfig (organization_id, creation_date, upstream_registry, upstream_registry_username,
                                   upstream_registry_password, expiration_s, insecure)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [row.organizationId, row.now, row.upstreamRegistry, row.username, row.password, row.expirationSeconds, row.insecure],
  );
}

/** Deletes the organization's configuration; false when it had none. Cached repositories stay. */
export async function deleteProxyCacheConfig(tx: Queryable, organizationId: number): Promise<boolean> {
  const { rowCount } = await tx.query(`DELETE FROM proxycacheconfig WHERE organization_id = $1`, [organizationId]);
  return rowCount > 0;
}

/** Sets Pier's options of a cache organization. */
export async function saveProxyCacheOption(tx: Queryable, organizationId: number, anonymousPulls: boolean): Promise<void> {
  await tx.query(
    `INSERT INTO ${OPTIONS} (organization_id, anonymous_pulls) VALUES ($1, $2)
     ON CONFLICT (organization_id) DO UPDATE SET anonymous_pulls = EXCLUDED.anonymous_pulls`,
    [organizationId, anonymousPulls],
  );
}

/** Whether anonymous pulls are on for organization `organizationId` (false when the option table is missing). */
export async function proxyCacheAllowsAnonymous(sql: Queryable, organizationId: number): Promise<boolean> {
  if (!(await optionsPresent(sql))) return false;
  const { rows } = await sql.query<{ anonymous_pulls: boolean }>(`SELECT anonymous_pulls FROM ${OPTIONS} WHERE organization_id = $1`, [
    organizationId,
  ]);
  return rows[0]?.anonymous_pulls ?? false;
}

/** Whether any repository of the organization holds an immutable tag (Quay refuses to make it a cache then). */
export async function organizationHasImmutableTags(sql: Queryable, organizationId: number): Promise<boolean> {
  const { rows } = await sql.query(
    `SELECT 1 FROM tag t JOIN repository r ON r.id = t.repository_id
     WHERE r.namespace_user_id = $1 AND t.immutable LIMIT 1`,
    [organizationId],
  );
  return rows.length > 0;
}
