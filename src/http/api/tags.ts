/** Quay's tag REST API under `/api/v1/repository/<ns>/<repo>/tag/` (endpoints/api/tag.py). */
import type { Context } from "hono";
import { listRepositoryTags } from "../../core/management/tags.js";
import { deleteRepositoryTag as endRepositoryTag, restoreTag, updateTag } from "../../core/management/tag-writes.js";
import type { AppServices } from "../context.js";
import { managementDeps, requestContext } from "./auth.js";
import { queryFlag, queryInteger, readJson } from "./request.js";

const path = (c: Context) => c.req.param("repository")!;
const tag = (c: Context) => c.req.param("tag")!;

/** `GET …/tag/?page&limit&onlyActiveTags&specificTag&filter_tag_name`. */
export function getRepositoryTags(services: AppServices) {
  const deps = managementDeps(services);
  return async function getRepositoryTags(c: Context): Promise<Response> {
    const params = {
      page: queryInteger(c, "page"),
      limit: queryInteger(c, "limit"),
      onlyActiveTags: queryFlag(c, "onlyActiveTags", false),
      specificTag: c.req.query("specificTag") ?? null,
      filterTagName: c.req.query("filter_tag_name") ?? null,
    };
    return c.json(await listRepositoryTags(deps, requestContext(c), path(c), params));
  };
}

/** `PUT …/tag/<tag>` `{manifest_digest?, expiration?}`: 201 `"Updated"`. */
export function putRepositoryTag(services: AppServices) {
  const deps = managementDeps(services);
  return async function putRepositoryTag(c: Context): Promise<Response> {
    return c.json(await updateTag(deps, requestContext(c), path(c), tag(c), await readJson(c)), 201);
  };
}

/** `DELETE …/tag/<tag>`: 204. */
export function deleteRepositoryTagHandler(services: AppServices) {
  const deps = managementDeps(services);
  return async function deleteRepositoryTag(c: Context): Promise<Response> {
    await endRepositoryTag(deps, requestContext(c), path(c), tag(c));
    return c.body(null, 204);
  };
}

/** `POST …/tag/<tag>/restore` `{manifest_digest}`: 200 `{}`. */
export function postRestoreTag(services: AppServices) {
  const deps = managementDeps(services);
  return async function postRestoreTag(c: Context): Promise<Response> {
    return c.json(await restoreTag(deps, requestContext(c), path(c), tag(c), await readJson(c)));
  };
}
