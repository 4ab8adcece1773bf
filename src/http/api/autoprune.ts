/**
 * Auto-prune policy endpoints (Quay's endpoints/api/policy.py) for organizations,
 * repositories and the signed-in user: list, create (201 `{"uuid"}`), get, update (204)
 * and delete (200 `{"uuid"}`).
 */
import type { Context } from "hono";
import {
  createAutoPrunePolicy,
  deleteAutoPrunePolicy,
  getAutoPrunePolicy,
  listAutoPrunePolicies,
  updateAutoPrunePolicy,
  type PolicyOwner,
} from "../../core/management/autoprune.js";
import type { AppServices } from "../context.js";
import { managementDeps, requestContext } from "./auth.js";
import { readJson } from "./request.js";

/** The policy owner a route names: `:orgname`, `:repository`, or neither (the user's own namespace). */
function ownerOf(c: Context): PolicyOwner {
  const org = c.req.param("orgname");
  if (org !== undefined) return { kind: "organization", name: org };
  const repository = c.req.param("repository");
  if (repository !== undefined) return { kind: "repository", path: repository };
  return { kind: "user" };
}

const uuidOf = (c: Context) => c.req.param("uuid")!;

export function listAutoPrunePoliciesHandler(services: AppServices) {
  const deps = managementDeps(services);
  return async function listAutoPrunePoliciesHandler(c: Context): Promise<Response> {
    return c.json(await listAutoPrunePolicies(deps, requestContext(c), ownerOf(c)));
  };
}

export function createAutoPrunePolicyHandler(services: AppServices) {
  const deps = managementDeps(services);
  return async function createAutoPrunePolicyHandler(c: Context): Promise<Response> {
    const owner = ownerOf(c);
    return c.json(await createAutoPrunePolicy(deps, requestContext(c), owner, await readJson(c)), 201);
  };
}

export function getAutoPrunePolicyHandler(services: AppServices) {
  const deps = managementDeps(services);
  return async function getAutoPrunePolicyHandler(c: Context): Promise<Response> {
    return c.json(await getAutoPrunePolicy(deps, requestContext(c), ownerOf(c), uuidOf(c)));
  };
}

/** Quay answers 204 (its `{"uuid"}` body is dropped with that status). */
export function updateAutoPrunePolicyHandler(services: AppServices) {
  const deps = managementDeps(services);
  return async function updateAutoPrunePolicyHandler(c: Context): Promise<Response> {
    const owner = ownerOf(c);
    await updateAutoPrunePolicy(deps, requestContext(c), owner, uuidOf(c), await readJson(c));
    return c.body(null, 204);
  };
}

export function deleteAutoPrunePolicyHandler(services: AppServices) {
  const deps = managementDeps(services);
  return async function deleteAutoPrunePolicyHandler(c: Context): Promise<Response> {
    return c.json(await deleteAutoPrunePolicy(deps, requestContext(c), ownerOf(c), uuidOf(c)));
  };
}
