/**
 * The mirror configuration body of Quay's endpoints/api/mirror.py (one schema for POST
 * and PUT), checked field by field with Quay's texts. Every check runs before anything
 * is written, so a refused body leaves no row behind (Quay inserts the rule first).
 */
import { validateBody } from "../management/body.js";
import { ManagementError } from "../management/errors.js";
import type { UpstreamPolicy } from "../upstream-guard.js";
import { InvalidGlobError, validateGlobs } from "./globs.js";
import { MirrorReferenceError, parseMirrorReference } from "./reference.js";

export const MIRROR_FIELDS = {
  properties: {
    is_enabled: { type: "boolean" },
    external_reference: { type: "string" },
    external_registry_username: { type: ["string", "null"] },
    external_registry_password: { type: ["string", "null"] },
    sync_start_date: { type: "string" },
    sync_interval: { type: "integer", minimum: 0 },
    robot_username: { type: "string" },
    root_rule: { type: "object" },
    external_registry_config: { type: "object" },
    skopeo_timeout_interval: { type: "integer" },
    architecture_filter: { type: ["array", "null"] },
  },
} as const;

/** Required on create; Quay reads robot_username unconditionally (a 500 without it), Pier requires it. */
export const CREATE_REQUIRED = [
  "external_reference",
  "sync_interval",
  "sync_start_date",
  "root_rule",
  "skopeo_timeout_interval",
  "robot_username",
] as const;

const ROOT_RULE = {
  required: ["rule_kind", "rule_value"],
  properties: { rule_kind: { type: "string", enum: ["tag_glob_csv"] }, rule_value: { type: "array" } },
} as const;

const REGISTRY_CONFIG = {
  properties: { verify_tls: { type: "boolean" }, unsigned_images: { type: "boolean" }, proxy: { type: "object" } },
} as const;

const PROXY = {
  properties: {
    http_proxy: { type: ["string", "null"] },
    https_proxy: { type: ["string", "null"] },
    no_proxy: { type: ["string", "null"] },
  },
} as const;

/** Quay's minimum skopeo_timeout_interval. */
const MIN_TIMEOUT_SECONDS = 300;
/** Plain credential bytes that still fit the columns once encrypted (as the proxy cache). */
const MAX_CREDENTIAL_BYTES = 3000;

/** `sync_start_date` strictly as `%Y-%m-%dT%H:%M:%SZ`, as epoch ms. */
export function parseStartDate(text: string): number {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z$/.exec(text);
  const invalid = () => ManagementError.invalid("Incorrect DateTime format for sync_start_date.");
  if (!match) throw invalid();
  const [y, mo, d, h, mi, s] = match.slice(1).map(Number) as [number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  const back = new Date(ms);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) {
    throw invalid();
  }
  return ms;
}

/** The checked reference, with Quay's 400 texts. */
export function checkReference(value: string, insecure: boolean, policy: UpstreamPolicy): string {
  try {
    return parseMirrorReference(value, insecure, policy).value;
  } catch (error) {
    if (error instanceof MirrorReferenceError) throw ManagementError.invalid(error.message);
    throw error;
  }
}

export function checkTimeout(value: number): number {
  if (value < MIN_TIMEOUT_SECONDS) throw ManagementError.invalid("Skopeo timeout interval cannot be less than 300 seconds");
  return value;
}

/** Pier has no sparse manifest lists (Quay's FEATURE_SPARSE_INDEX): only an empty filter is accepted. */
export function checkArchitectureFilter(value: unknown[] | null): string {
  if (value !== null && value.length > 0) {
    throw ManagementError.invalid("Architecture filtering requires FEATURE_SPARSE_INDEX to be enabled.");
  }
  return "[]";
}

/** The rule's globs, checked (Quay's schema requires both keys; Pier also checks each glob). */
export function checkRootRule(value: unknown): string[] {
  const rule = validateBody(value, ROOT_RULE);
  try {
    return validateGlobs(rule.rule_value);
  } catch (error) {
    if (error instanceof InvalidGlobError) throw ManagementError.invalid(error.message);
    throw error;
  }
}

export interface RegistryConfigValue {
  verify_tls?: boolean;
  unsigned_images?: boolean;
  proxy?: { http_proxy?: string | null; https_proxy?: string | null; no_proxy?: string | null };
}

/** The registry config object with its known keys checked (unknown keys are kept, as Quay keeps them). */
export function checkRegistryConfig(value: unknown): RegistryConfigValue {
  const config = validateBody(value, REGISTRY_CONFIG) as RegistryConfigValue;
  if (config.proxy !== undefined) validateBody(config.proxy, PROXY);
  return config;
}

/** The stored config JSON (a row Quay wrote may hold anything); `{}` when unreadable. */
export function storedRegistryConfig(text: string): RegistryConfigValue & Record<string, unknown> {
  try {
    const parsed = JSON.parse(text) as unknown;
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** A credential from the body: null and "" are none; too long is a 400. */
export function credential(value: unknown, field: string): string | null {
  if (typeof value !== "string" || value === "") return null;
  if (new TextEncoder().encode(value).length > MAX_CREDENTIAL_BYTES) throw ManagementError.invalid(`${field} is too long`);
  return value;
}
