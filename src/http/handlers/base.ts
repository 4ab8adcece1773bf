/**
 * `GET /v2/`: the API version check. As Quay: `true` with 200 once the caller presents
 * a valid registry token, else 401; always the bearer challenge and
 * `Docker-Distribution-API-Version`.
 */
import type { Context } from "hono";
import { callerOf, type AppServices } from "../context.js";
import { bearerChallenge } from "../urls.js";

export function apiVersionCheck({ registry }: AppServices) {
  return function apiVersionCheck(c: Context): Response {
    c.header("Docker-Distribution-API-Version", "registry/2.0");
    c.header("WWW-Authenticate", bearerChallenge(registry.config, c.req.url));
    c.header("X-Sparse-Manifest-Support", "false");
    return c.json(true, callerOf(c).viaToken ? 200 : 401);
  };
}
