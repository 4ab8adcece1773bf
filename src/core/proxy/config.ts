/**
 * A cache organization's stored configuration turned into what the registry client
 * reaches: the parsed upstream and the credentials decrypted. The SSRF guard is not run
 * here; the guarded Upstream port checks every request's address.
 */
import type { FieldEncrypter } from "../auth/field-encryption.js";
import { UpstreamError, type UpstreamTarget } from "../upstream/types.js";
import type { ProxyCacheConfig } from "../../db/queries/proxy-cache.js";
import { parseUpstreamRegistry } from "./upstream-registry.js";

/**
 * The upstream target of `config`. Credentials are used only when both are stored; a
 * stored credential without a DATABASE_SECRET_KEY to decrypt it is an `auth` failure.
 */
export async function upstreamTargetOf(config: ProxyCacheConfig, fields: FieldEncrypter | null): Promise<UpstreamTarget> {
  const registry = parseUpstreamRegistry(config.upstreamRegistry, config.insecure);
  if (config.username === null || config.password === null) return { registry, credentials: null };
  if (fields === null) {
    throw new UpstreamError(
      "auth",
      `the credentials of cache organization ${config.namespace} cannot be decrypted without a database secret key`,
    );
  }
  const [username, password] = await Promise.all([fields.decrypt(config.username), fields.decrypt(config.password)]);
  return { registry, credentials: { username, password } };
}
