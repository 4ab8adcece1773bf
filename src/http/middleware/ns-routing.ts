/**
 * `?ns=<upstream host>` on /v2 requests (containerd's mirror protocol): the request is
 * dispatched again under the cache organization that serves that host (core/proxy/
 * ns-mapping.ts), without `ns`. Mounted first, so only the rewritten request is
 * authenticated, observed and audited — its challenge names the local repository, which
 * is the scope containerd then asks a token for.
 */
import type { Context, ExecutionContext, Hono, Next } from "hono";
import { RegistryError } from "../../core/errors/registry-error.js";
import { nsHost, nsRoutes, routeName } from "../../core/proxy/ns-mapping.js";
import type { AppServices } from "../context.js";

/** /v2/<name>/<resource>… where a repository name can be rewritten. */
const REPOSITORY_PATH = /^\/v2\/(.+?)\/(?:manifests|blobs|tags|referrers)\//;

export function nsRouting(services: AppServices, app: () => Hono) {
  return async function nsRouting(c: Context, next: Next): Promise<Response | void> {
    const ns = c.req.query("ns");
    if (ns === undefined || !services.registry.config.proxyCache) return next();
    const url = new URL(c.req.url);
    const match = REPOSITORY_PATH.exec(url.pathname);
    if (match === null) return next();
    const host = nsHost(ns);
    if (host === null) throw new RegistryError("INVALID_REQUEST", "the ns parameter must name a registry host", { ns });
    const own = [services.registry.config.serverHostname, url.host].filter((h): h is string => h !== null).map((h) => h.toLowerCase());
    url.searchParams.delete("ns");
    if (!own.includes(host)) {
      const local = routeName(await nsRoutes(services.pull, host), match[1]!);
      if (local === null)
        throw new RegistryError("NAME_UNKNOWN", `no cache organization for upstream ${host}`, { ns: host, name: match[1] });
      url.pathname = `/v2/${local}/${url.pathname.slice(`/v2/${match[1]}/`.length)}`;
    }
    let ctx: ExecutionContext | undefined;
    try {
      ctx = c.executionCtx;
    } catch {
      // Node: no execution context.
    }
    return app().fetch(new Request(url, c.req.raw), c.env, ctx);
  };
}
