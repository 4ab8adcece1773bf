/**
 * Repository mirroring (Quay's endpoints/api/mirror.py): `…/mirror` GET, POST (201 `""`),
 * PUT (201 `""`), `…/mirror/sync-now` and `…/mirror/sync-cancel` (204), Pier's
 * `…/mirror/metrics`, and Quay's `…/changestate`.
 */
import type { Context } from "hono";
import {
  changeMirror,
  changeRepositoryState,
  createMirror,
  getMirror,
  mirrorMetrics,
  syncCancel,
  syncNow,
} from "../../core/mirror/config-api.js";
import type { AppServices } from "../context.js";
import { managementDeps, requestContext } from "./auth.js";
import { readJson } from "./request.js";

const repositoryOf = (c: Context) => c.req.param("repository")!;

export function getMirrorConfig(services: AppServices) {
  const deps = managementDeps(services);
  return async function getMirrorConfig(c: Context): Promise<Response> {
    return c.json(await getMirror(deps, requestContext(c), repositoryOf(c)));
  };
}

export function postMirrorConfig(services: AppServices) {
  const deps = managementDeps(services);
  return async function postMirrorConfig(c: Context): Promise<Response> {
    await createMirror(deps, requestContext(c), repositoryOf(c), await readJson(c));
    return c.json("", 201);
  };
}

export function putMirrorConfig(services: AppServices) {
  const deps = managementDeps(services);
  return async function putMirrorConfig(c: Context): Promise<Response> {
    await changeMirror(deps, requestContext(c), repositoryOf(c), await readJson(c));
    return c.json("", 201);
  };
}

export function postMirrorSyncNow(services: AppServices) {
  const deps = managementDeps(services);
  return async function postMirrorSyncNow(c: Context): Promise<Response> {
    await syncNow(deps, requestContext(c), repositoryOf(c));
    return c.body(null, 204);
  };
}

export function postMirrorSyncCancel(services: AppServices) {
  const deps = managementDeps(services);
  return async function postMirrorSyncCancel(c: Context): Promise<Response> {
    await syncCancel(deps, requestContext(c), repositoryOf(c));
    return c.body(null, 204);
  };
}

export function getMirrorMetrics(services: AppServices) {
  const deps = managementDeps(services);
  return async function getMirrorMetrics(c: Context): Promise<Response> {
    return c.json(await mirrorMetrics(deps, requestContext(c), repositoryOf(c)));
  };
}

export function putRepositoryState(services: AppServices) {
  const deps = managementDeps(services);
  return async function putRepositoryState(c: Context): Promise<Response> {
    await changeRepositoryState(deps, requestContext(c), repositoryOf(c), await readJson(c));
    return c.json({ success: true });
  };
}
