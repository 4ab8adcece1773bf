/**
 * `GET /v2/`: the API version check. Quay answers `true` with 401 and a bearer
 * challenge until the caller presents a valid token (JWT auth arrives with the
 * token service), always with `Docker-Distribution-API-Version`.
 */
import type { Context } from "hono";
import type { AppServices } from "../context.js";
import { bearerChallenge } from "../urls.js";

export function apiVersionCheck({ registry }: AppServices) {
  return function apiVersionCheck(c: Context): Response {
    c.header("Docker-Distribution-API-Version", "registry/2.0");
    c.header("WWW-Authenticate", bearerChallenge(registry.config, c.req.url));
    c.header("X-Sparse-Manifest-Support", "false");
    return c.json(true, 401);
  };
}
