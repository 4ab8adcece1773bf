/** Repositories: create, list, read, delete, change visibility (endpoints/api/repository.py). */
import type { Context } from "hono";
import { changeVisibility, createRepository, deleteRepository } from "../../core/management/repositories.js";
import { getRepository, listRepositories } from "../../core/management/repository-views.js";
import type { AppServices } from "../context.js";
import { managementDeps, requestContext } from "./auth.js";
import { queryFlag, readJson } from "./request.js";

const path = (c: Context) => c.req.param("repository")!;

/** `POST /api/v1/repository` `{repository, visibility, description, namespace?, repo_kind?}`: 201. */
export function postRepository(services: AppServices) {
  const deps = managementDeps(services);
  return async function postRepository(c: Context): Promise<Response> {
    return c.json(await createRepository(deps, requestContext(c), await readJson(c)), 201);
  };
}

/** `GET /api/v1/repository?namespace=&public=&starred=&last_modified=&popularity=&repo_kind=&next_page=`. */
export function getRepositories(services: AppServices) {
  const deps = managementDeps(services);
  return async function getRepositories(c: Context): Promise<Response> {
    const result = await listRepositories(deps, requestContext(c), {
      namespace: c.req.query("namespace") || null,
      starred: queryFlag(c, "starred", false),
      public: queryFlag(c, "public", false),
      lastModified: queryFlag(c, "last_modified", false),
      popularity: queryFlag(c, "popularity", false),
      kind: c.req.query("repo_kind") || "image",
      nextPage: c.req.query("next_page") ?? null,
    });
    return c.json(result);
  };
}

/** `GET /api/v1/repository/<ns>/<repo>?includeTags=&includeStats=`. */
export function getRepositoryDetails(services: AppServices) {
  const deps = managementDeps(services);
  return async function getRepositoryDetails(c: Context): Promise<Response> {
    const options = { includeTags: queryFlag(c, "includeTags", true), includeStats: queryFlag(c, "includeStats", false) };
    return c.json(await getRepository(deps, requestContext(c), path(c), options));
  };
}

/** `DELETE /api/v1/repository/<ns>/<repo>`: 204. */
export function deleteRepositoryByName(services: AppServices) {
  const deps = managementDeps(services);
  return async function deleteRepositoryByName(c: Context): Promise<Response> {
    await deleteRepository(deps, requestContext(c), path(c));
    return c.body(null, 204);
  };
}

/** `POST /api/v1/repository/<ns>/<repo>/changevisibility` `{visibility}`. */
export function postChangeVisibility(services: AppServices) {
  const deps = managementDeps(services);
  return async function postChangeVisibility(c: Context): Promise<Response> {
    return c.json(await changeVisibility(deps, requestContext(c), path(c), await readJson(c)));
  };
}
