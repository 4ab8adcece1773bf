/**
 * A mirror's `external_reference` (`host[:port]/path/repo`, no scheme, tag or digest)
 * and what the registry client reaches with it. `verify_tls: false` in the mirror's
 * registry config means plain HTTP here: the runtimes' fetch cannot skip certificate
 * checks, so an upstream without a trusted certificate is reached without TLS.
 */
import type { FieldEncrypter } from "../auth/field-encryption.js";
import { parseUpstreamRegistry, UpstreamRegistryConfigError } from "../proxy/upstream-registry.js";
import type { UpstreamPolicy } from "../upstream-guard.js";
import { UpstreamError, type UpstreamTarget } from "../upstream/types.js";

export class MirrorReferenceError extends Error {
  override name = "MirrorReferenceError";
}

export interface MirrorSource {
  target: UpstreamTarget;
  /** The repository at the upstream (`library/nginx`, `team/app`). */
  repository: string;
}

const NOT_ALLOWED = "The provided registry location is not allowed";
const MAX_LENGTH = 2048;

/** Parses and checks a reference; with `policy`, the SSRF guard refuses private hosts (Quay's message). */
export function parseMirrorReference(value: string, insecure: boolean, policy?: UpstreamPolicy) {
  const trimmed = value.trim();
  if (trimmed === "") throw new MirrorReferenceError("External registry reference is required");
  if (trimmed.length > MAX_LENGTH) throw new MirrorReferenceError(`External registry reference is longer than ${MAX_LENGTH} characters`);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed)) throw new MirrorReferenceError("External registry reference must not include a URL scheme");
  const slash = trimmed.indexOf("/");
  if (slash === -1 || slash === trimmed.length - 1) {
    throw new MirrorReferenceError("External registry reference must include a repository path");
  }
  const path = trimmed.slice(slash + 1);
  if (path.includes("@") || path.includes(":")) {
    throw new MirrorReferenceError("External registry reference must not include a tag or digest");
  }
  let registry;
  try {
    // The path is checked as the proxy cache checks an upstream namespace.
    registry = parseUpstreamRegistry(trimmed, insecure, policy);
  } catch (error) {
    if (!(error instanceof UpstreamRegistryConfigError)) throw error;
    if (error.message === "The provided registry URL is not allowed") throw new MirrorReferenceError(NOT_ALLOWED);
    if (error.message.startsWith("Invalid upstream namespace")) throw new MirrorReferenceError(`Invalid repository path "${path}"`);
    throw new MirrorReferenceError(error.message.replace("External registry URL", "External registry reference"));
  }
  const host = registry.host;
  const repository = host === "docker.io" && !path.includes("/") ? `library/${path}` : path;
  return { value: trimmed, registry: { ...registry, value: host, namespace: null }, repository };
}

/** What the sync reaches: the parsed reference and the decrypted credentials. */
export async function mirrorSourceOf(
  row: { external_reference: string; external_registry_username: string | null; external_registry_password: string | null },
  insecure: boolean,
  fields: FieldEncrypter | null,
): Promise<MirrorSource> {
  const parsed = parseMirrorReference(row.external_reference, insecure);
  const target: UpstreamTarget = { registry: parsed.registry, credentials: null };
  if (row.external_registry_username !== null && row.external_registry_password !== null) {
    if (fields === null) throw new UpstreamError("auth", "the mirror's credentials cannot be decrypted without a database secret key");
    const [username, password] = await Promise.all([
      fields.decrypt(row.external_registry_username),
      fields.decrypt(row.external_registry_password),
    ]);
    target.credentials = { username, password };
  }
  return { target, repository: parsed.repository };
}
