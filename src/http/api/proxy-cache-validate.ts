/** `POST /api/v1/organization/<org>/validateproxycache`: 202 with `"Valid"` or `"Anonymous"`. */
import type { Context } from "hono";
import { validateProxyCacheConfig } from "../../core/management/proxy-cache-validate.js";
import type { AppServices } from "../context.js";
import { managementDeps, requestContext } from "./auth.js";
import { readJson } from "./request.js";

export function postValidateProxyCache(services: AppServices) {
  const deps = managementDeps(services);
  return async function postValidateProxyCache(c: Context): Promise<Response> {
    const verdict = await validateProxyCacheConfig(
      deps,
      requestContext(c),
      services.registryClient,
      c.req.param("orgname")!,
      await readJson(c),
    );
    return c.json(verdict, 202);
  };
}
