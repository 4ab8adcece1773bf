/**
 * Robot accounts of organizations (`/api/v1/organization/<org>/robots…`) and of the
 * signed-in user (`/api/v1/user/robots…`), as endpoints/api/robot.py serves them.
 */
import type { Context } from "hono";
import {
  createRobotAccount,
  deleteRobotAccountFor,
  getRobotAccount,
  listRobotAccounts,
  regenerateRobotToken,
  ROBOT_BODY_LIMIT,
  type RobotOwner,
} from "../../core/management/robots.js";
import type { AppServices } from "../context.js";
import { managementDeps, requestContext } from "./auth.js";
import { queryFlag, queryInteger, readJson } from "./request.js";

/** The organization in the path, or the signed-in user for `/user/robots` routes. */
function ownerOf(c: Context): RobotOwner {
  const org = c.req.param("orgname");
  return org === undefined ? { kind: "user" } : { kind: "org", name: org };
}

/** `GET …/robots?permissions=&token=&limit=`. */
export function listRobots(services: AppServices) {
  const deps = managementDeps(services);
  return async function listRobots(c: Context): Promise<Response> {
    const options = {
      permissions: queryFlag(c, "permissions", false),
      token: queryFlag(c, "token", true),
      limit: queryInteger(c, "limit"),
    };
    return c.json(await listRobotAccounts(deps, requestContext(c), ownerOf(c), options));
  };
}

/** `GET …/robots/<short>`. */
export function getRobot(services: AppServices) {
  const deps = managementDeps(services);
  return async function getRobot(c: Context): Promise<Response> {
    return c.json(await getRobotAccount(deps, requestContext(c), ownerOf(c), c.req.param("shortname")!));
  };
}

/** `PUT …/robots/<short>` with an optional `{description, unstructured_metadata}` body: 201. */
export function putRobot(services: AppServices) {
  const deps = managementDeps(services);
  return async function putRobot(c: Context): Promise<Response> {
    const body = await readJson(c, { optional: true, limit: ROBOT_BODY_LIMIT });
    return c.json(await createRobotAccount(deps, requestContext(c), ownerOf(c), c.req.param("shortname")!, body), 201);
  };
}

/** `DELETE …/robots/<short>`: 204. */
export function deleteRobot(services: AppServices) {
  const deps = managementDeps(services);
  return async function deleteRobot(c: Context): Promise<Response> {
    await deleteRobotAccountFor(deps, requestContext(c), ownerOf(c), c.req.param("shortname")!);
    return c.body(null, 204);
  };
}

/** `POST …/robots/<short>/regenerate`. */
export function regenerateRobot(services: AppServices) {
  const deps = managementDeps(services);
  return async function regenerateRobot(c: Context): Promise<Response> {
    return c.json(await regenerateRobotToken(deps, requestContext(c), ownerOf(c), c.req.param("shortname")!));
  };
}
