/**
 * Who calls /api/v1 (Quay's process_oauth): `Authorization: Bearer <token>` with one of
 * Quay's OAuth access tokens, or — a Pier extension so curl can drive the API without
 * Quay's web UI — HTTP Basic with a user's own username and password. Credentials that
 * do not validate leave the request anonymous, as in Quay; endpoints that need a
 * caller then answer 401. Robots and app-specific tokens are not API callers.
 */
import type { Context, Next } from "hono";
import { Access, type ApiCaller } from "../../core/management/access.js";
import { authenticate, parseBasic } from "../../core/auth/credentials.js";
import type { ManagementDeps, RequestContext } from "../../core/management/deps.js";
import { ManagementError } from "../../core/management/errors.js";
import { callerFromOAuthToken } from "../../core/management/oauth.js";
import { RegistryError } from "../../core/errors/registry-error.js";
import { clientIp, type AppServices } from "../context.js";

async function callerOfHeader(services: AppServices, header: string | undefined): Promise<ApiCaller | null> {
  if (!header) return null;
  const parts = header.split(" ").filter(Boolean);
  if (parts.length === 2 && parts[0]!.toLowerCase() === "bearer") {
    return callerFromOAuthToken(services.registry.sql, services.registry.clock, parts[1]!);
  }
  const basic = parseBasic(header);
  if (basic === null) return null;
  try {
    const entity = await authenticate(services.credentials, basic.username, basic.password);
    return entity.kind === "user" ? { id: entity.id, username: entity.username, uuid: entity.uuid, scopes: null, oauth: null } : null;
  } catch (error) {
    if (error instanceof RegistryError) return null;
    throw error;
  }
}

/** Sets the request's caller and permission context for every /api/v1 route. */
export function apiAuth(services: AppServices) {
  const { config, sql } = services.registry;
  return async function apiAuth(c: Context, next: Next): Promise<Response | void> {
    const caller = await callerOfHeader(services, c.req.header("authorization"));
    if (caller) c.set("apiCaller", caller);
    c.set("apiAccess", new Access(sql, caller, config.superUsers));
    // Quay's check_anon_protection; GET /user/ answers anonymous callers itself.
    const anonAllowed = c.req.method === "GET" && /^\/api\/v1\/user\/?$/.test(c.req.path);
    if (!caller && !config.anonymousAccess && !anonAllowed) throw new ManagementError("invalid_token", "Anonymous access is not allowed");
    return next();
  };
}

/** The management services' dependencies, from the app's. */
export function managementDeps(services: AppServices): ManagementDeps {
  const { registry } = services;
  return {
    sql: registry.sql,
    clock: registry.clock,
    config: registry.config,
    fields: services.credentials.fields,
    cache: services.pull.cache,
  };
}

/** The request's permission context (set by apiAuth). */
export function requestContext(c: Context): RequestContext {
  return { access: c.get("apiAccess") as Access, ip: clientIp(c) };
}
