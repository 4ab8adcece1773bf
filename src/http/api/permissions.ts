/** Repository permissions of users, robots and teams (endpoints/api/permission.py). */
import type { Context } from "hono";
import {
  deleteTeamGrant,
  deleteUserGrant,
  getTeamGrant,
  getUserGrant,
  listTeamGrants,
  listUserGrants,
  setTeamGrant,
  setUserGrant,
} from "../../core/management/permissions.js";
import type { AppServices } from "../context.js";
import { managementDeps, requestContext } from "./auth.js";
import { readJson } from "./request.js";

const path = (c: Context) => c.req.param("repository")!;

export function getUserPermissions(services: AppServices) {
  const deps = managementDeps(services);
  return async function getUserPermissions(c: Context): Promise<Response> {
    return c.json(await listUserGrants(deps, requestContext(c), path(c)));
  };
}

export function getUserPermission(services: AppServices) {
  const deps = managementDeps(services);
  return async function getUserPermission(c: Context): Promise<Response> {
    return c.json(await getUserGrant(deps, requestContext(c), path(c), c.req.param("username")!));
  };
}

/** `PUT …/permissions/user/<username>` `{role}`. */
export function putUserPermission(services: AppServices) {
  const deps = managementDeps(services);
  return async function putUserPermission(c: Context): Promise<Response> {
    return c.json(await setUserGrant(deps, requestContext(c), path(c), c.req.param("username")!, await readJson(c)));
  };
}

export function deleteUserPermission(services: AppServices) {
  const deps = managementDeps(services);
  return async function deleteUserPermission(c: Context): Promise<Response> {
    await deleteUserGrant(deps, requestContext(c), path(c), c.req.param("username")!);
    return c.body(null, 204);
  };
}

export function getTeamPermissions(services: AppServices) {
  const deps = managementDeps(services);
  return async function getTeamPermissions(c: Context): Promise<Response> {
    return c.json(await listTeamGrants(deps, requestContext(c), path(c)));
  };
}

export function getTeamPermission(services: AppServices) {
  const deps = managementDeps(services);
  return async function getTeamPermission(c: Context): Promise<Response> {
    return c.json(await getTeamGrant(deps, requestContext(c), path(c), c.req.param("teamname")!));
  };
}

/** `PUT …/permissions/team/<team>` `{role}`. */
export function putTeamPermission(services: AppServices) {
  const deps = managementDeps(services);
  return async function putTeamPermission(c: Context): Promise<Response> {
    return c.json(await setTeamGrant(deps, requestContext(c), path(c), c.req.param("teamname")!, await readJson(c)));
  };
}

export function deleteTeamPermission(services: AppServices) {
  const deps = managementDeps(services);
  return async function deleteTeamPermission(c: Context): Promise<Response> {
    await deleteTeamGrant(deps, requestContext(c), path(c), c.req.param("teamname")!);
    return c.body(null, 204);
  };
}
