/** Organizations: `POST /api/v1/organization/`, `GET`/`DELETE /api/v1/organization/<org>` (endpoints/api/organization.py). */
import type { Context } from "hono";
import { createOrganization, deleteOrganization, getOrganization } from "../../core/management/organizations.js";
import type { AppServices } from "../context.js";
import { managementDeps, requestContext } from "./auth.js";
import { readJson } from "./request.js";

export function postOrganization(services: AppServices) {
  const deps = managementDeps(services);
  return async function postOrganization(c: Context): Promise<Response> {
    await createOrganization(deps, requestContext(c), await readJson(c));
    return c.json("Created", 201);
  };
}

export function getOrganizationDetails(services: AppServices) {
  const deps = managementDeps(services);
  return async function getOrganizationDetails(c: Context): Promise<Response> {
    return c.json(await getOrganization(deps, requestContext(c), c.req.param("orgname")!));
  };
}

export function deleteOrganizationNamespace(services: AppServices) {
  const deps = managementDeps(services);
  return async function deleteOrganizationNamespace(c: Context): Promise<Response> {
    await deleteOrganization(deps, requestContext(c), c.req.param("orgname")!);
    return c.body(null, 204);
  };
}
