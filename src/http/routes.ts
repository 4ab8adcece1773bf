/**
 * The route table: every endpoint Pier serves, by name. Read this to find the
 * handler for a request in one hop. GET routes also answer HEAD (Hono runs the GET
 * handler; handlers that can answer HEAD more cheaply check the method).
 */
import type { Context } from "hono";
import type { AppServices } from "./context.js";
import {
  createAutoPrunePolicyHandler,
  deleteAutoPrunePolicyHandler,
  getAutoPrunePolicyHandler,
  listAutoPrunePoliciesHandler,
  updateAutoPrunePolicyHandler,
} from "./api/autoprune.js";
import { deleteOrganizationNamespace, getOrganizationDetails, postOrganization } from "./api/organizations.js";
import { postValidateProxyCache } from "./api/proxy-cache-validate.js";
import { deleteProxyCacheContents } from "./api/proxy-cache-purge.js";
import { deleteProxyCacheConfig, getProxyCacheConfig, postProxyCacheConfig, putProxyCacheOptionsHandler } from "./api/proxy-cache.js";
import {
  deleteTeamPermission,
  deleteUserPermission,
  getTeamPermission,
  getTeamPermissions,
  getUserPermission,
  getUserPermissions,
  putTeamPermission,
  putUserPermission,
} from "./api/permissions.js";
import { deleteRepositoryByName, getRepositories, getRepositoryDetails, postChangeVisibility, postRepository } from "./api/repositories.js";
import { deleteRobot, getRobot, listRobots, putRobot, regenerateRobot } from "./api/robots.js";
import { deleteOrganizationTeam, deleteTeamMember, getTeamMembers, putOrganizationTeam, putTeamMember } from "./api/teams.js";
import { getUser } from "./api/users.js";
import { deleteRepositoryTagHandler, getRepositoryTags, postRestoreTag, putRepositoryTag } from "./api/tags.js";
import { postRunJob } from "./api/jobs.js";
import { getFrontRules, postFrontKillSwitch, putFrontRules } from "./api/front.js";
import {
  getMirrorConfig,
  getMirrorMetrics,
  postMirrorConfig,
  postMirrorSyncCancel,
  postMirrorSyncNow,
  putMirrorConfig,
  putRepositoryState,
} from "./api/mirror.js";
import * as quota from "./api/quota.js";
import { apiVersionCheck } from "./handlers/base.js";
import { deleteBlob, getBlob } from "./handlers/blobs.js";
import { instanceHealth } from "./handlers/health.js";
import { catalog, listTags } from "./handlers/listings.js";
import { deleteManifestHandler, getManifest, putManifestHandler } from "./handlers/manifests.js";
import { metricsEndpoint } from "./handlers/metrics.js";
import { listReferrers } from "./handlers/referrers.js";
import { issueToken } from "./handlers/token.js";
import { deleteBlobUpload, getBlobUpload, patchBlobUpload, putBlobUpload, startBlobUpload } from "./handlers/uploads.js";

export interface Route {
  /** Unique; its first word (or `api` for /api/v1) is the route family metrics are kept by. */
  name: string;
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
  handler: (services: AppServices) => (c: Context) => Response | Promise<Response>;
}

/** A repository name: one or more path components (`ns/repo`, `ns/group/repo`, or `repo` for the library). */
const NAME = ":name{.+}";
/** The same for the management API's `/api/v1/repository/<ns>/<repo>` paths (Quay's apirepopath). */
const REPO = ":repository{.+}";
const ORG = "/api/v1/organization/:orgname";

/** Quay's five auto-prune policy routes under `base`, with and without the trailing slash on the collection. */
function autoPruneRoutes(family: string, base: string): Route[] {
  const list = `${base}/autoprunepolicy`;
  return [
    { name: `api-${family}-autoprune-list`, method: "GET", path: `${list}/`, handler: listAutoPrunePoliciesHandler },
    { name: `api-${family}-autoprune-list-noslash`, method: "GET", path: list, handler: listAutoPrunePoliciesHandler },
    { name: `api-${family}-autoprune-create`, method: "POST", path: `${list}/`, handler: createAutoPrunePolicyHandler },
    { name: `api-${family}-autoprune-create-noslash`, method: "POST", path: list, handler: createAutoPrunePolicyHandler },
    { name: `api-${family}-autoprune`, method: "GET", path: `${list}/:uuid`, handler: getAutoPrunePolicyHandler },
    { name: `api-${family}-autoprune-update`, method: "PUT", path: `${list}/:uuid`, handler: updateAutoPrunePolicyHandler },
    { name: `api-${family}-autoprune-delete`, method: "DELETE", path: `${list}/:uuid`, handler: deleteAutoPrunePolicyHandler },
  ];
}

export const routes: readonly Route[] = [
  { name: "base", method: "GET", path: "/v2/", handler: apiVersionCheck },
  { name: "token", method: "GET", path: "/v2/auth", handler: issueToken },
  { name: "catalog", method: "GET", path: "/v2/_catalog", handler: catalog },
  { name: "manifest", method: "GET", path: `/v2/${NAME}/manifests/:reference`, handler: getManifest },
  { name: "manifest-put", method: "PUT", path: `/v2/${NAME}/manifests/:reference`, handler: putManifestHandler },
  { name: "manifest-delete", method: "DELETE", path: `/v2/${NAME}/manifests/:reference`, handler: deleteManifestHandler },
  { name: "blob", method: "GET", path: `/v2/${NAME}/blobs/:digest`, handler: getBlob },
  { name: "blob-delete", method: "DELETE", path: `/v2/${NAME}/blobs/:digest`, handler: deleteBlob },
  { name: "upload-start", method: "POST", path: `/v2/${NAME}/blobs/uploads/`, handler: startBlobUpload },
  { name: "upload-chunk", method: "PATCH", path: `/v2/${NAME}/blobs/uploads/:uuid`, handler: patchBlobUpload },
  { name: "upload-complete", method: "PUT", path: `/v2/${NAME}/blobs/uploads/:uuid`, handler: putBlobUpload },
  { name: "upload-status", method: "GET", path: `/v2/${NAME}/blobs/uploads/:uuid`, handler: getBlobUpload },
  { name: "upload-cancel", method: "DELETE", path: `/v2/${NAME}/blobs/uploads/:uuid`, handler: deleteBlobUpload },
  { name: "tags", method: "GET", path: `/v2/${NAME}/tags/list`, handler: listTags },
  { name: "referrers", method: "GET", path: `/v2/${NAME}/referrers/:digest`, handler: listReferrers },
  { name: "health", method: "GET", path: "/health/instance", handler: instanceHealth },
  { name: "metrics", method: "GET", path: "/metrics", handler: metricsEndpoint },

  // Management API (Quay's /api/v1). Suffixed repository routes come before the bare one.
  { name: "api-user", method: "GET", path: "/api/v1/user/", handler: getUser },
  { name: "api-user-noslash", method: "GET", path: "/api/v1/user", handler: getUser },
  { name: "api-user-robots", method: "GET", path: "/api/v1/user/robots", handler: listRobots },
  { name: "api-user-robot", method: "GET", path: "/api/v1/user/robots/:shortname", handler: getRobot },
  { name: "api-user-robot-create", method: "PUT", path: "/api/v1/user/robots/:shortname", handler: putRobot },
  { name: "api-user-robot-delete", method: "DELETE", path: "/api/v1/user/robots/:shortname", handler: deleteRobot },
  { name: "api-user-robot-regenerate", method: "POST", path: "/api/v1/user/robots/:shortname/regenerate", handler: regenerateRobot },
  ...autoPruneRoutes("user", "/api/v1/user"),
  { name: "api-user-quota-list", method: "GET", path: "/api/v1/user/quota", handler: quota.listOwnQuotas },
  { name: "api-user-quota", method: "GET", path: "/api/v1/user/quota/:quotaId", handler: quota.getOwnQuota },
  { name: "api-user-quota-limits", method: "GET", path: "/api/v1/user/quota/:quotaId/limit", handler: quota.listOwnQuotaLimits },
  { name: "api-user-quota-limit", method: "GET", path: "/api/v1/user/quota/:quotaId/limit/:limitId", handler: quota.getOwnQuotaLimit },
  { name: "api-org-create", method: "POST", path: "/api/v1/organization/", handler: postOrganization },
  { name: "api-org-create-noslash", method: "POST", path: "/api/v1/organization", handler: postOrganization },
  { name: "api-org", method: "GET", path: ORG, handler: getOrganizationDetails },
  { name: "api-org-delete", method: "DELETE", path: ORG, handler: deleteOrganizationNamespace },
  { name: "api-org-proxycache-validate", method: "POST", path: `${ORG}/validateproxycache`, handler: postValidateProxyCache },
  { name: "api-org-robots", method: "GET", path: `${ORG}/robots`, handler: listRobots },
  { name: "api-org-robot", method: "GET", path: `${ORG}/robots/:shortname`, handler: getRobot },
  { name: "api-org-robot-create", method: "PUT", path: `${ORG}/robots/:shortname`, handler: putRobot },
  { name: "api-org-robot-delete", method: "DELETE", path: `${ORG}/robots/:shortname`, handler: deleteRobot },
  { name: "api-org-robot-regenerate", method: "POST", path: `${ORG}/robots/:shortname/regenerate`, handler: regenerateRobot },
  { name: "api-org-proxycache-purge", method: "DELETE", path: `${ORG}/proxycache/cache`, handler: deleteProxyCacheContents },
  { name: "api-org-proxycache", method: "GET", path: `${ORG}/proxycache`, handler: getProxyCacheConfig },
  { name: "api-org-proxycache-create", method: "POST", path: `${ORG}/proxycache`, handler: postProxyCacheConfig },
  { name: "api-org-proxycache-delete", method: "DELETE", path: `${ORG}/proxycache`, handler: deleteProxyCacheConfig },
  { name: "api-org-proxycache-options", method: "PUT", path: `${ORG}/proxycache/options`, handler: putProxyCacheOptionsHandler },
  ...autoPruneRoutes("org", ORG),
  { name: "api-org-quota-list", method: "GET", path: `${ORG}/quota`, handler: quota.listOrgQuotas },
  { name: "api-org-quota-create", method: "POST", path: `${ORG}/quota`, handler: quota.createOrgQuota },
  { name: "api-org-quota", method: "GET", path: `${ORG}/quota/:quotaId`, handler: quota.getOrgQuota },
  { name: "api-org-quota-change", method: "PUT", path: `${ORG}/quota/:quotaId`, handler: quota.changeOrgQuota },
  { name: "api-org-quota-delete", method: "DELETE", path: `${ORG}/quota/:quotaId`, handler: quota.deleteOrgQuota },
  { name: "api-org-quota-limits", method: "GET", path: `${ORG}/quota/:quotaId/limit`, handler: quota.listOrgQuotaLimits },
  { name: "api-org-quota-limit-create", method: "POST", path: `${ORG}/quota/:quotaId/limit`, handler: quota.createOrgQuotaLimit },
  { name: "api-org-quota-limit", method: "GET", path: `${ORG}/quota/:quotaId/limit/:limitId`, handler: quota.getOrgQuotaLimit },
  { name: "api-org-quota-limit-change", method: "PUT", path: `${ORG}/quota/:quotaId/limit/:limitId`, handler: quota.changeOrgQuotaLimit },
  {
    name: "api-org-quota-limit-delete",
    method: "DELETE",
    path: `${ORG}/quota/:quotaId/limit/:limitId`,
    handler: quota.deleteOrgQuotaLimit,
  },
  { name: "api-team-put", method: "PUT", path: `${ORG}/team/:teamname`, handler: putOrganizationTeam },
  { name: "api-team-delete", method: "DELETE", path: `${ORG}/team/:teamname`, handler: deleteOrganizationTeam },
  { name: "api-team-members", method: "GET", path: `${ORG}/team/:teamname/members`, handler: getTeamMembers },
  { name: "api-team-member-put", method: "PUT", path: `${ORG}/team/:teamname/members/:membername`, handler: putTeamMember },
  { name: "api-team-member-delete", method: "DELETE", path: `${ORG}/team/:teamname/members/:membername`, handler: deleteTeamMember },
  { name: "api-repo-create", method: "POST", path: "/api/v1/repository", handler: postRepository },
  { name: "api-repo-list", method: "GET", path: "/api/v1/repository", handler: getRepositories },
  { name: "api-repo-visibility", method: "POST", path: `/api/v1/repository/${REPO}/changevisibility`, handler: postChangeVisibility },
  { name: "api-perm-users", method: "GET", path: `/api/v1/repository/${REPO}/permissions/user/`, handler: getUserPermissions },
  { name: "api-perm-users-noslash", method: "GET", path: `/api/v1/repository/${REPO}/permissions/user`, handler: getUserPermissions },
  { name: "api-perm-user", method: "GET", path: `/api/v1/repository/${REPO}/permissions/user/:username`, handler: getUserPermission },
  { name: "api-perm-user-put", method: "PUT", path: `/api/v1/repository/${REPO}/permissions/user/:username`, handler: putUserPermission },
  {
    name: "api-perm-user-delete",
    method: "DELETE",
    path: `/api/v1/repository/${REPO}/permissions/user/:username`,
    handler: deleteUserPermission,
  },
  { name: "api-perm-teams", method: "GET", path: `/api/v1/repository/${REPO}/permissions/team/`, handler: getTeamPermissions },
  { name: "api-perm-teams-noslash", method: "GET", path: `/api/v1/repository/${REPO}/permissions/team`, handler: getTeamPermissions },
  { name: "api-perm-team", method: "GET", path: `/api/v1/repository/${REPO}/permissions/team/:teamname`, handler: getTeamPermission },
  { name: "api-perm-team-put", method: "PUT", path: `/api/v1/repository/${REPO}/permissions/team/:teamname`, handler: putTeamPermission },
  {
    name: "api-perm-team-delete",
    method: "DELETE",
    path: `/api/v1/repository/${REPO}/permissions/team/:teamname`,
    handler: deleteTeamPermission,
  },
  ...autoPruneRoutes("repo", `/api/v1/repository/${REPO}`),
  { name: "api-tags", method: "GET", path: `/api/v1/repository/${REPO}/tag/`, handler: getRepositoryTags },
  { name: "api-tags-noslash", method: "GET", path: `/api/v1/repository/${REPO}/tag`, handler: getRepositoryTags },
  { name: "api-tag-restore", method: "POST", path: `/api/v1/repository/${REPO}/tag/:tag/restore`, handler: postRestoreTag },
  { name: "api-tag-put", method: "PUT", path: `/api/v1/repository/${REPO}/tag/:tag`, handler: putRepositoryTag },
  { name: "api-tag-delete", method: "DELETE", path: `/api/v1/repository/${REPO}/tag/:tag`, handler: deleteRepositoryTagHandler },
  { name: "api-mirror-sync-now", method: "POST", path: `/api/v1/repository/${REPO}/mirror/sync-now`, handler: postMirrorSyncNow },
  { name: "api-mirror-sync-cancel", method: "POST", path: `/api/v1/repository/${REPO}/mirror/sync-cancel`, handler: postMirrorSyncCancel },
  { name: "api-mirror-metrics", method: "GET", path: `/api/v1/repository/${REPO}/mirror/metrics`, handler: getMirrorMetrics },
  { name: "api-mirror", method: "GET", path: `/api/v1/repository/${REPO}/mirror`, handler: getMirrorConfig },
  { name: "api-mirror-create", method: "POST", path: `/api/v1/repository/${REPO}/mirror`, handler: postMirrorConfig },
  { name: "api-mirror-change", method: "PUT", path: `/api/v1/repository/${REPO}/mirror`, handler: putMirrorConfig },
  { name: "api-repo-changestate", method: "PUT", path: `/api/v1/repository/${REPO}/changestate`, handler: putRepositoryState },
  { name: "api-repo", method: "GET", path: `/api/v1/repository/${REPO}`, handler: getRepositoryDetails },
  { name: "api-repo-delete", method: "DELETE", path: `/api/v1/repository/${REPO}`, handler: deleteRepositoryByName },
  // Pier extension: run a job now (npm run job against an embedded registry).
  { name: "api-superuser-job-run", method: "POST", path: "/api/v1/superuser/jobs/:job", handler: postRunJob },
  { name: "api-superuser-front-get", method: "GET", path: "/api/v1/superuser/front", handler: getFrontRules },
  { name: "api-superuser-front-put", method: "PUT", path: "/api/v1/superuser/front", handler: putFrontRules },
  { name: "api-superuser-front-killswitch", method: "POST", path: "/api/v1/superuser/front/killswitch", handler: postFrontKillSwitch },
];

/** The family a route's metrics are kept under: base, token, catalog, manifest, blob, upload, tags, referrers, health, metrics, api. */
export function routeFamily(route: Route): string {
  return route.name.startsWith("api-") ? "api" : route.name.split("-")[0]!;
}
