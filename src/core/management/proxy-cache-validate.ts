/**
 * `POST /api/v1/organization/<org>/validateproxycache` (Quay's endpoints/api/organization.py):
 * checks a proxy-cache configuration against its upstream without saving it.
 */
import { parseUpstreamRegistry, UpstreamRegistryConfigError } from "../proxy/upstream-registry.js";
import { findProxyCacheConfig } from "../../db/queries/proxy-cache.js";
import { UpstreamError, type RegistryClient } from "../upstream/types.js";
import { validateBody, type ObjectSchema } from "./body.js";
import type { ManagementDeps, RequestContext } from "./deps.js";
import { ManagementError } from "./errors.js";
import { requireOrganization } from "./organizations.js";

/** The POST proxycache body (None values allowed, as Quay drops them). */
const SCHEMA: ObjectSchema = {
  required: ["upstream_registry"],
  properties: {
    upstream_registry: { type: "string" },
    upstream_registry_username: { type: ["string", "null"] },
    upstream_registry_password: { type: ["string", "null"] },
    expiration_s: { type: ["integer", "null"] },
    insecure: { type: ["boolean", "null"] },
  },
};

export const FAILED_LOGIN = "Failed login to remote registry. Please verify entered details and try again.";
export const FAILED_VALIDATION = "Failed to validate Proxy cache configuration";

/** `"Valid"` when the upstream accepted the credentials (or needs none), `"Anonymous"` without credentials. */
export async function validateProxyCacheConfig(
  deps: ManagementDeps,
  ctx: RequestContext,
  client: RegistryClient,
  orgname: string,
  input: unknown,
): Promise<"Valid" | "Anonymous"> {
  if (!deps.config.proxyCache) throw ManagementError.notFound();
  ctx.access.requireCaller();
  if (!ctx.access.isSuperuser() && !(await ctx.access.isOrgAdmin(orgname))) throw ManagementError.unauthorized();
  await requireOrganization(deps, orgname);
  const body = validateBody(input, SCHEMA);
  if ((await findProxyCacheConfig(deps.sql, orgname)) !== null) throw ManagementError.invalid("Proxy Cache Configuration already exists");
  let registry;
  try {
    registry = parseUpstreamRegistry(body.upstream_registry as string, body.insecure === true, {
      allowedHosts: deps.config.ssrfAllowedHosts,
    });
  } catch (error) {
    if (error instanceof UpstreamRegistryConfigError) throw ManagementError.invalid(error.message);
    throw error;
  }
  const username = body.upstream_registry_username;
  const password = body.upstream_registry_password;
  const credentials =
    typeof username === "string" && username !== "" ? { username, password: typeof password === "string" ? password : "" } : null;
  try {
    return (await client.ping({ registry, credentials })) === "authenticated" ? "Valid" : "Anonymous";
  } catch (error) {
    if (error instanceof UpstreamError) throw ManagementError.invalid(error.kind === "auth" ? FAILED_LOGIN : FAILED_VALIDATION);
    throw error;
  }
}
