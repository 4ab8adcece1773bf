/** `GET /api/v1/user/`: the signed-in user (endpoints/api/user.py). */
import type { Context } from "hono";
import { getSignedInUser } from "../../core/management/users.js";
import type { AppServices } from "../context.js";
import { managementDeps, requestContext } from "./auth.js";

export function getUser(services: AppServices) {
  const deps = managementDeps(services);
  return async function getUser(c: Context): Promise<Response> {
    return c.json(await getSignedInUser(deps, requestContext(c)));
  };
}
