/**
 * The route table: every endpoint Pier serves, by name. Read this to find the
 * handler for a request in one hop. GET routes also answer HEAD (Hono runs the GET
 * handler; handlers that can answer HEAD more cheaply check the method).
 */
import type { Context } from "hono";
import type { AppServices } from "./context.js";
import { apiVersionCheck } from "./handlers/base.js";
import { deleteBlob, getBlob } from "./handlers/blobs.js";
import { instanceHealth } from "./handlers/health.js";
import { catalog, listTags } from "./handlers/listings.js";
import { deleteManifestHandler, getManifest, putManifestHandler } from "./handlers/manifests.js";
import { listReferrers } from "./handlers/referrers.js";
import { issueToken } from "./handlers/token.js";
import { deleteBlobUpload, getBlobUpload, patchBlobUpload, putBlobUpload, startBlobUpload } from "./handlers/uploads.js";

export interface Route {
  name: string;
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
  handler: (services: AppServices) => (c: Context) => Response | Promise<Response>;
}

/** A repository name: one or more path components (`ns/repo`, `ns/group/repo`, or `repo` for the library). */
const NAME = ":name{.+}";

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
];
