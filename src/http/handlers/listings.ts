/**
 * `GET /v2/<name>/tags/list` and `GET /v2/_catalog`: pages of names with `n` and
 * `last`, and a relative `Link: <…>; rel="next"` when more follow (as Quay links).
 */
import type { Context } from "hono";
import { catalogPageSize, readCatalog, readTags, tagPageSize } from "../../core/resources/listings.js";
import { callerOf, nextLink, repositoryParam, textQuery, type AppServices } from "../context.js";

export function listTags(services: AppServices) {
  return async function listTags(c: Context): Promise<Response> {
    const name = repositoryParam(c, services);
    const page = await readTags(services.pull, callerOf(c), name, tagPageSize(c.req.query("n")), textQuery(c, "last"));
    if (page.next !== null) c.header("Link", nextLink(`/v2/${name.full}/tags/list`, { n: page.limit, last: page.next }));
    return c.json({ name: name.full, tags: page.items });
  };
}

export function catalog(services: AppServices) {
  return async function catalog(c: Context): Promise<Response> {
    const page = await readCatalog(services.pull, callerOf(c), catalogPageSize(c.req.query("n")), textQuery(c, "last"));
    if (page.next !== null) c.header("Link", nextLink("/v2/_catalog", { n: page.limit, last: page.next }));
    return c.json({ repositories: page.items });
  };
}
