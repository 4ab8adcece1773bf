/**
 * Token scopes as Quay's `/v2/auth` reads them (endpoints/v2/v2auth.py): only
 * `repository:<name>:<actions>`, the name optionally prefixed by this registry's host,
 * one repository per `scope` parameter.
 */
import { RegistryError } from "../errors/registry-error.js";
import { parseRepositoryName, type RepositoryName } from "../model/names.js";
import type { Action } from "./access.js";

export interface RepositoryScope {
  /** The name as the client wrote it (host prefix included): echoed in the token's `access`. */
  requestedName: string;
  name: RepositoryName;
  actions: Action[];
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Parses one `scope` value; INVALID_REQUEST for non-repository scopes, NAME_INVALID for bad names. */
export function parseScope(scope: string, serverHostname: string, libraryNamespace: string): RepositoryScope {
  const pattern = new RegExp(
    `^repository:((?:${escapeRegExp(serverHostname)}\\/)?((?:[.a-zA-Z0-9_-]+\\/)*[.a-zA-Z0-9_-]+)):((?:push|pull|\\*)(?:,(?:push|pull|\\*))*)$`,
  );
  const match = pattern.exec(scope);
  if (!match) throw new RegistryError("INVALID_REQUEST", `Unable to decode repository and actions: ${scope}`);
  const [, requestedName, path, actions] = match as unknown as [string, string, string, string];
  const name = parseRepositoryName(path, libraryNamespace);
  if (name === null) throw new RegistryError("NAME_INVALID", `Invalid repository name: ${path}`);
  return { requestedName, name, actions: [...new Set(actions.split(",") as Action[])] };
}

/** The `access` entry name back to a repository: the host prefix, when it is ours, dropped. */
export function repositoryOfAccessName(accessName: string, serverHostname: string, libraryNamespace: string): RepositoryName | null {
  const prefix = `${serverHostname}/`;
  const path = accessName.startsWith(prefix) ? accessName.slice(prefix.length) : accessName;
  return parseRepositoryName(path, libraryNamespace);
}
