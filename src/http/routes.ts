/**
 * The route table: every endpoint Pier serves, by name. Read this to find the
 * handler for a request in one hop.
 */
import type { Context } from "hono";
import type { Registry } from "../core/registry.js";
import { apiVersionCheck } from "./handlers/base.js";
import { instanceHealth } from "./handlers/health.js";

export interface Route {
  name: string;
  method: "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
  handler: (registry: Registry) => (c: Context) => Response | Promise<Response>;
}

export const routes: readonly Route[] = [
  { name: "base", method: "GET", path: "/v2/", handler: apiVersionCheck },
  { name: "health", method: "GET", path: "/health/instance", handler: instanceHealth },
];
