/** `DELETE /api/v1/organization/<org>/proxycache/cache?repository=&tag=`: Pier's scoped purge of a cache organization. */
import type { Context } from "hono";
import { purgeProxyCache } from "../../core/proxy/purge.js";
import type { AppServices } from "../context.js";
import { managementDeps, requestContext } from "./auth.js";

/** 200 `{"purged": [{"repository", "tag"}…]}`, after the pull cache of every purged repository was bumped. */
export function deleteProxyCacheContents(services: AppServices) {
  const deps = managementDeps(services);
  return async function deleteProxyCacheContents(c: Context): Promise<Response> {
    const purged = await purgeProxyCache(deps, requestContext(c), c.req.param("orgname")!, {
      repository: c.req.query("repository") || null,
      tag: c.req.query("tag") || null,
    });
    return c.json({ purged });
  };
}
