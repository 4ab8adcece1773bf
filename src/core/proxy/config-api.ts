/**
 * `/api/v1/organization/<org>/proxycache` (Quay's endpoints/api/organization.py
 * ProxyCacheConfig): read, create and delete an organization's cache configuration with
 * Quay's rules, texts and audit kinds, plus Pier's `anonymous_pulls` option. Upstream
 * credentials are stored encrypted in Quay's `v0$$` format and never returned.
 */
import {
  deleteProxyCacheConfig,
  findProxyCacheConfig,
  findProxyCacheUpstream,
  insertProxyCacheConfig,
  lockProxyCacheConfig,
  organizationHasImmutableTags,
  saveProxyCacheOption,
} from "../../db/queries/proxy-cache.js";
import { audit } from "../management/audit.js";
import { validateBody } from "../management/body.js";
import type { ManagementDeps, RequestContext } from "../management/deps.js";
import { nsHost, nsRoutesCacheName } from "./ns-mapping.js";
import { proxyConfigCacheName } from "./organizations.js";
import { ManagementError } from "../management/errors.js";
import { requireOrganization } from "../management/organizations.js";
import { parseUpstreamRegistry, UpstreamRegistryConfigError } from "./upstream-registry.js";

/** Quay's expiration_s default: a cached tag is fresh for a day. */
export const DEFAULT_EXPIRATION_SECONDS = 86_400;
/** Plain credential bytes that still fit varchar(4096) once encrypted (nonce, tag, base64, `v0$$`). */
const MAX_CREDENTIAL_BYTES = 3000;

const NEW_CONFIG = {
  required: ["upstream_registry"],
  properties: {
    upstream_registry: { type: "string" },
    upstream_registry_username: { type: ["string", "null"] },
    upstream_registry_password: { type: ["string", "null"] },
    expiration_s: { type: ["integer", "null"], minimum: 0 },
    insecure: { type: ["boolean", "null"] },
    anonymous_pulls: { type: ["boolean", "null"] },
  },
} as const;

const OPTIONS = { required: ["anonymous_pulls"], properties: { anonymous_pulls: { type: "boolean" } } } as const;

/** What GET answers: Quay's three fields (all `""` when none) and Pier's `anonymous_pulls`. */
export interface ProxyCacheView {
  upstream_registry: string;
  expiration_s: number | "";
  insecure: boolean | "";
  anonymous_pulls: boolean | "";
}

const NONE: ProxyCacheView = { upstream_registry: "", expiration_s: "", insecure: "", anonymous_pulls: "" };

async function requireAdmin(ctx: RequestContext, orgName: string): Promise<void> {
  if (!(await ctx.access.isOrgAdmin(orgName)) && !ctx.access.isSuperuser()) throw ManagementError.unauthorized();
}

function featureOn(deps: ManagementDeps): void {
  if (!deps.config.proxyCache) throw ManagementError.notFound();
}

/** `GET …/proxycache`: organization members and superusers. */
export async function getProxyCache(deps: ManagementDeps, ctx: RequestContext, orgName: string): Promise<ProxyCacheView> {
  featureOn(deps);
  if (!(await ctx.access.isOrgMember(orgName)) && !ctx.access.isSuperuser()) throw ManagementError.unauthorized();
  await requireOrganization(deps, orgName);
  const config = await findProxyCacheConfig(deps.sql, orgName);
  if (config === null) return NONE;
  return {
    upstream_registry: config.upstreamRegistry,
    expiration_s: config.expirationSeconds,
    insecure: config.insecure,
    anonymous_pulls: config.anonymousPulls,
  };
}

/** A credential from the body: absent, null and "" are none. */
function credential(value: unknown, field: string): string | null {
  if (typeof value !== "string" || value === "") return null;
  if (new TextEncoder().encode(value).length > MAX_CREDENTIAL_BYTES) throw ManagementError.invalid(`${field} is too long`);
  return value;
}

/** `POST …/proxycache`: organization admins and superusers; 201 `"Created"`. */
export async function createProxyCache(deps: ManagementDeps, ctx: RequestContext, orgName: string, body: unknown): Promise<void> {
  featureOn(deps);
  await requireAdmin(ctx, orgName);
  const org = await requireOrganization(deps, orgName);
  const data = validateBody(body, NEW_CONFIG);
  const insecure = (data.insecure as boolean | null | undefined) ?? false;
  let upstream: string;
  try {
    upstream = parseUpstreamRegistry(data.upstream_registry as string, insecure, { allowedHosts: deps.config.ssrfAllowedHosts }).value;
  } catch (error) {
    if (error instanceof UpstreamRegistryConfigError) throw ManagementError.invalid(error.message);
    throw error;
  }
  const username = credential(data.upstream_registry_username, "upstream_registry_username");
  const password = credential(data.upstream_registry_password, "upstream_registry_password");
  if ((username === null) !== (password === null)) {
    throw ManagementError.invalid("Upstream credentials need both upstream_registry_username and upstream_registry_password");
  }
  let encrypted: { username: string; password: string } | null = null;
  if (username !== null && password !== null) {
    if (deps.fields === null) {
      throw ManagementError.invalid(
        "Upstream credentials cannot be stored: the registry has no database secret key (PIER_DATABASE_SECRET_KEY)",
      );
    }
    encrypted = { username: await deps.fields.encrypt(username), password: await deps.fields.encrypt(password) };
  }

  await deps.sql.transaction(async (tx) => {
    if (await lockProxyCacheConfig(tx, org.id)) throw ManagementError.invalid("Proxy Cache Configuration already exists");
    if (await organizationHasImmutableTags(tx, org.id)) {
      throw ManagementError.invalid("Cannot convert organization to proxy cache: immutable tags exist");
    }
    await insertProxyCacheConfig(tx, {
      organizationId: org.id,
      upstreamRegistry: upstream,
      username: encrypted?.username ?? null,
      password: encrypted?.password ?? null,
      expirationSeconds: (data.expiration_s as number | null | undefined) ?? DEFAULT_EXPIRATION_SECONDS,
      insecure,
      now: new Date(deps.clock.now()),
    });
    await saveProxyCacheOption(tx, org.id, (data.anonymous_pulls as boolean | null | undefined) ?? false);
    await audit(tx, deps, ctx, { kind: "create_proxy_cache_config", namespaceId: org.id, metadata: { upstream_registry: upstream } });
  });
  await forgetConfiguration(deps, orgName, upstream);
}

/** Makes pulls see a configuration change at once: the organization's, and the `?ns=` routes of its upstream host. */
async function forgetConfiguration(deps: ManagementDeps, orgName: string, upstream: string | null): Promise<void> {
  await deps.cache.bump(proxyConfigCacheName(orgName));
  const host = upstream === null ? null : nsHost(upstream.split("/")[0]!);
  if (host !== null) await deps.cache.bump(nsRoutesCacheName(host));
}

/** `DELETE …/proxycache`: 404 when none, else 201 `"Deleted"`; cached repositories stay. */
export async function deleteProxyCache(deps: ManagementDeps, ctx: RequestContext, orgName: string): Promise<void> {
  featureOn(deps);
  await requireAdmin(ctx, orgName);
  const org = await requireOrganization(deps, orgName);
  const upstream = await findProxyCacheUpstream(deps.sql, orgName);
  await deps.sql.transaction(async (tx) => {
    if (!(await deleteProxyCacheConfig(tx, org.id))) throw ManagementError.notFound();
    await audit(tx, deps, ctx, { kind: "delete_proxy_cache_config", namespaceId: org.id });
  });
  await forgetConfiguration(deps, orgName, upstream);
}

/**
 * `PUT …/proxycache/options` (Pier): changes `anonymous_pulls` of a cache organization.
 * Not audited: Quay's logentrykind has no kind for it and Pier adds none.
 */
export async function putProxyCacheOptions(
  deps: ManagementDeps,
  ctx: RequestContext,
  orgName: string,
  body: unknown,
): Promise<ProxyCacheView> {
  featureOn(deps);
  await requireAdmin(ctx, orgName);
  const org = await requireOrganization(deps, orgName);
  const data = validateBody(body, OPTIONS);
  await deps.sql.transaction(async (tx) => {
    if (!(await lockProxyCacheConfig(tx, org.id))) throw ManagementError.notFound();
    await saveProxyCacheOption(tx, org.id, data.anonymous_pulls as boolean);
  });
  await deps.cache.bump(proxyConfigCacheName(orgName));
  return getProxyCache(deps, ctx, orgName);
}
