/**
 * Registry token check for /v2 (Quay's process_registry_jwt_auth): a valid bearer
 * token becomes the request's caller; no token is an anonymous caller; an invalid one
 * is refused at once with Quay's `{"error": …}` body and the challenge.
 */
import type { Context, Next } from "hono";
import { InvalidTokenError, verifyBearer } from "../../core/auth/registry-tokens.js";
import type { AppServices } from "../context.js";
import { bearerChallenge, publicOrigin } from "../urls.js";

export function bearerAuth(services: AppServices) {
  const { registry } = services;
  return async function bearerAuth(c: Context, next: Next): Promise<Response | void> {
    const header = c.req.header("authorization");
    // Only bearer tokens authenticate /v2 requests; other schemes are ignored (anonymous).
    if (!header || !/^bearer /i.test(header)) return next();
    try {
      c.set(
        "caller",
        await verifyBearer(header, {
          keys: registry.keys,
          clock: registry.clock,
          audience: publicOrigin(registry.config, c.req.url).host,
          libraryNamespace: registry.config.libraryNamespace,
        }),
      );
    } catch (error) {
      if (!(error instanceof InvalidTokenError)) throw error;
      services.observability?.metrics.authFailures.inc({ reason: "invalid_token" });
      return c.json({ error: error.message }, 401, {
        "WWW-Authenticate": bearerChallenge(registry.config, c.req.url),
        "Docker-Distribution-API-Version": "registry/2.0",
      });
    }
    return next();
  };
}
