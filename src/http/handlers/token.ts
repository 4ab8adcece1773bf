/**
 * `GET /v2/auth`: Quay's token endpoint. Basic credentials (or none: anonymous) and
 * `scope` parameters in; `{"token": <JWT>}` out, with what the caller may do on each
 * repository. Only runtimes holding a signing key issue tokens.
 */
import type { Context } from "hono";
import { authenticate, parseBasic, type Entity } from "../../core/auth/credentials.js";
import { auditLoginFailure, auditLoginSuccess } from "../../core/auth/login-audit.js";
import { issueRegistryToken } from "../../core/auth/registry-tokens.js";
import { parseScope } from "../../core/auth/scopes.js";
import { grantScopes, tokenContext, tokenSubject } from "../../core/auth/token-service.js";
import { RegistryError } from "../../core/errors/registry-error.js";
import { isDependencyUnavailable, unavailableDependency } from "../../core/errors/dependency-unavailable.js";
import { clientIp, type AppServices } from "../context.js";
import { publicOrigin } from "../urls.js";

export function issueToken(services: AppServices) {
  const { registry } = services;
  return async function issueToken(c: Context): Promise<Response> {
    if (registry.signingKey === null) throw new RegistryError("UNSUPPORTED", "this registry instance does not issue tokens");
    const host = publicOrigin(registry.config, c.req.url).host;
    // Space-joined scopes (a challenge's value copied whole, OAuth style) count one by one; Quay refuses them.
    const scopes = (c.req.queries("scope") ?? [])
      .flatMap((scope) => scope.split(" "))
      .filter((scope) => scope !== "")
      .map((scope) => parseScope(scope, host, registry.config.libraryNamespace));

    let entity: Entity | null = null;
    const header = c.req.header("authorization");
    if (header) {
      const basic = parseBasic(header);
      if (basic === null) throw new RegistryError("UNAUTHORIZED", "Invalid authorization header");
      const attempt = { username: basic.username, ip: clientIp(c), userAgent: c.req.header("user-agent") ?? null };
      try {
        entity = await authenticate(services.credentials, basic.username, basic.password);
      } catch (error) {
        if (error instanceof RegistryError) {
          services.observability?.metrics.authFailures.inc({ reason: "invalid_credentials" });
          await auditLoginFailure(registry.sql, registry.clock, attempt, error.message);
        }
        throw error;
      }
      if (scopes.length === 0) await auditLoginSuccess(registry.sql, registry.clock, entity, attempt);
    }
    if (entity === null && scopes.length === 0) throw new RegistryError("UNAUTHORIZED");

    const token = await issueRegistryToken(registry.signingKey, registry.clock, {
      audience: c.req.query("service") || host,
      subject: tokenSubject(entity),
      access: await grantScopes(registry.sql, entity, scopes, { proxyCache: registry.config.proxyCache }).catch((error: unknown) => {
        // Database unreachable: an anonymous token without grants still reads the public content the pull cache holds.
        if (entity === null && isDependencyUnavailable(error) && unavailableDependency(error) === "database") return [];
        throw error;
      }),
      context: tokenContext(entity, scopes),
    });
    return c.json({ token }, 200, { "Cache-Control": "no-cache, no-store, must-revalidate" });
  };
}
