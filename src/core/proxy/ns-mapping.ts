/**
 * containerd's `?ns=<upstream host>` (sent when Pier is its mirror in hosts.toml) mapped
 * to the cache organization for that host, so one mirror entry serves docker.io, ghcr.io
 * and quay.io pulls without rewriting image names: `library/alpine?ns=docker.io` is
 * `<org>/alpine` in an organization caching `docker.io/library`, `<org>/library/alpine`
 * in one caching `docker.io`.
 */
import type { PullDeps } from "../resources/deps.js";
import { PullCache } from "../resources/pull-cache.js";
import { findProxyCacheByHost } from "../../db/queries/proxy-cache.js";
import { parseUpstreamRegistry } from "./upstream-registry.js";

/** One cache organization serving a host, and the upstream namespace it caches (null: the whole host). */
export interface NsRoute {
  organization: string;
  prefix: string | null;
}

const HOST = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*|\[[0-9a-f:.]+\])(?::\d{1,5})?$/;
/** Docker Hub answers as registry-1.docker.io; clients and configurations name it docker.io. */
const DOCKER_HUB = ["docker.io", "registry-1.docker.io", "index.docker.io"];

/** The `ns` value as a host, or null when it is not `host[:port]`. */
export function nsHost(ns: string): string | null {
  const host = ns.trim().toLowerCase();
  return HOST.test(host) ? host : null;
}

function aliases(host: string): string[] {
  return DOCKER_HUB.includes(host) ? DOCKER_HUB : [host];
}

/** The cache organizations serving `host`, through the read-through cache. */
export async function nsRoutes(deps: PullDeps, host: string): Promise<NsRoute[]> {
  const cacheName = nsRoutesCacheName(host);
  return deps.cache.read(cacheName, PullCache.key(cacheName, "routes"), async () => {
    const configs = await findProxyCacheByHost(deps.sql, aliases(host));
    const routes = configs.map((config) => ({
      organization: config.namespace,
      prefix: parseUpstreamRegistry(config.upstreamRegistry, config.insecure).namespace,
    }));
    return { value: routes, validUntil: null, negative: routes.length === 0 };
  });
}

/** The read-through cache's name for the routes of a host (bumped when a configuration changes). */
export function nsRoutesCacheName(host: string): string {
  return `proxyhost:${aliases(host)[0]}`;
}

/** The local repository name `name` has under `routes`: the longest matching upstream namespace wins, then the oldest organization. */
export function routeName(routes: readonly NsRoute[], name: string): string | null {
  let best: NsRoute | null = null;
  for (const route of routes) {
    const matches = route.prefix === null || name.startsWith(`${route.prefix}/`);
    if (matches && (best === null || (route.prefix?.length ?? -1) > (best.prefix?.length ?? -1))) best = route;
  }
  if (best === null) return null;
  return `${best.organization}/${best.prefix === null ? name : name.slice(best.prefix.length + 1)}`;
}
