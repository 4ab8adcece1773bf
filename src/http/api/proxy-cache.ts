/** Cache organizations: `GET/POST/DELETE /api/v1/organization/<org>/proxycache` and Pier's `PUT …/proxycache/options`. */
import type { Context } from "hono";
import { createProxyCache, deleteProxyCache, getProxyCache, putProxyCacheOptions } from "../../core/proxy/config-api.js";
import type { AppServices } from "../context.js";
import { managementDeps, requestContext } from "./auth.js";
import { readJson } from "./request.js";

/** `GET …/proxycache`: the configuration, Quay's empty-string shape when none. */
export function getProxyCacheConfig(services: AppServices) {
  const deps = managementDeps(services);
  return async function getProxyCacheConfig(c: Context): Promise<Response> {
    return c.json(await getProxyCache(deps, requestContext(c), c.req.param("orgname")!));
  };
}

/** `POST …/proxycache`: 201 `"Created"`. */
export function postProxyCacheConfig(services: AppServices) {
  const deps = managementDeps(services);
  return async function postProxyCacheConfig(c: Context): Promise<Response> {
    await createProxyCache(deps, requestContext(c), c.req.param("orgname")!, await readJson(c));
    return c.json("Created", 201);
  };
}

/** `DELETE …/proxycache`: 201 `"Deleted"` (Quay's status). */
export function deleteProxyCacheConfig(services: AppServices) {
  const deps = managementDeps(services);
  return async function deleteProxyCacheConfig(c: Context): Promise<Response> {
    await deleteProxyCache(deps, requestContext(c), c.req.param("orgname")!);
    return c.json("Deleted", 201);
  };
}

/** `PUT …/proxycache/options` (Pier): the configuration after the change. */
export function putProxyCacheOptionsHandler(services: AppServices) {
  const deps = managementDeps(services);
  return async function putProxyCacheOptionsHandler(c: Context): Promise<Response> {
    return c.json(await putProxyCacheOptions(deps, requestContext(c), c.req.param("orgname")!, await readJson(c)));
  };
}
