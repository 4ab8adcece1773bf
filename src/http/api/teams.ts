/** Teams of an organization and their members (endpoints/api/team.py). */
import type { Context } from "hono";
import { addMember, listMembers, putTeam, removeMember, removeTeam } from "../../core/management/teams.js";
import type { AppServices } from "../context.js";
import { managementDeps, requestContext } from "./auth.js";
import { queryFlag, readJson } from "./request.js";

const org = (c: Context) => c.req.param("orgname")!;
const team = (c: Context) => c.req.param("teamname")!;

/** `PUT /api/v1/organization/<org>/team/<team>` `{role, description?}`. */
export function putOrganizationTeam(services: AppServices) {
  const deps = managementDeps(services);
  return async function putOrganizationTeam(c: Context): Promise<Response> {
    return c.json(await putTeam(deps, requestContext(c), org(c), team(c), await readJson(c)));
  };
}

export function deleteOrganizationTeam(services: AppServices) {
  const deps = managementDeps(services);
  return async function deleteOrganizationTeam(c: Context): Promise<Response> {
    await removeTeam(deps, requestContext(c), org(c), team(c));
    return c.body(null, 204);
  };
}

/** `GET …/team/<team>/members?includePending=`. */
export function getTeamMembers(services: AppServices) {
  const deps = managementDeps(services);
  return async function getTeamMembers(c: Context): Promise<Response> {
    return c.json(await listMembers(deps, requestContext(c), org(c), team(c), queryFlag(c, "includePending", false)));
  };
}

export function putTeamMember(services: AppServices) {
  const deps = managementDeps(services);
  return async function putTeamMember(c: Context): Promise<Response> {
    return c.json(await addMember(deps, requestContext(c), org(c), team(c), c.req.param("membername")!));
  };
}

export function deleteTeamMember(services: AppServices) {
  const deps = managementDeps(services);
  return async function deleteTeamMember(c: Context): Promise<Response> {
    await removeMember(deps, requestContext(c), org(c), team(c), c.req.param("membername")!);
    return c.body(null, 204);
  };
}
