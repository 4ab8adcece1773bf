/**
 * The strangler front's routing rules, as data: which requests Pier answers and which go
 * on to the legacy Quay. A request is classified once (its path family, namespace and
 * repository); the first rule that matches it decides, and with no match it goes to
 * legacy. The kill switch sends everything to legacy. A percentage rule buckets by a
 * hash of the namespace, so a tenant stays on one side while the percentage holds.
 */

export type FrontTarget = "pier" | "legacy";

export interface FrontRule {
  /** Names the rule in metrics and audit entries. */
  id: string;
  /** Path families: `v2-read`, `v2-write`, `v2-auth`, `api` (every /api/v1 family), `api:<family>`, `other`, or `*`. */
  families: readonly string[];
  /** Only these organizations or users (absent: any). */
  namespaces?: readonly string[];
  /** Only these repositories, `namespace/name` (absent: any). */
  repositories?: readonly string[];
  exceptNamespaces?: readonly string[];
  exceptRepositories?: readonly string[];
  /** Only this share of namespaces (0–100), picked by a stable hash of the namespace. */
  percent?: number;
  target: FrontTarget;
}

export interface FrontRules {
  killSwitch: boolean;
  rules: readonly FrontRule[];
}

/** Everything to legacy: a front starts out as a plain proxy. */
export const ALL_TO_LEGACY: FrontRules = { killSwitch: false, rules: [] };

/** Rules that cannot be applied as written; the message names the field. */
export class FrontRulesError extends Error {
  override name = "FrontRulesError";
}

const FAMILY = /^(\*|v2-read|v2-write|v2-auth|api|api:[a-z_]+|other)$/;
const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const RULE_KEYS = new Set(["id", "families", "namespaces", "repositories", "exceptNamespaces", "exceptRepositories", "percent", "target"]);

function stringList(value: unknown, where: string, pattern?: RegExp): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.some((item) => typeof item !== "string" || item === "" || item.length > 255)) {
    throw new FrontRulesError(`${where} must be a list of non-empty strings`);
  }
  for (const item of value as string[]) if (pattern && !pattern.test(item)) throw new FrontRulesError(`${where}: "${item}" is not valid`);
  return value as string[];
}

function parseRule(value: unknown, index: number, seen: Set<string>): FrontRule {
  const where = `rules[${index}]`;
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new FrontRulesError(`${where} must be an object`);
  const raw = value as Record<string, unknown>;
  for (const key of Object.keys(raw)) if (!RULE_KEYS.has(key)) throw new FrontRulesError(`${where}: unknown field "${key}"`);
  if (typeof raw.id !== "string" || !ID.test(raw.id))
    throw new FrontRulesError(`${where}.id must be 1-64 letters, digits, ".", "_" or "-"`);
  if (seen.has(raw.id)) throw new FrontRulesError(`${where}.id "${raw.id}" is used twice`);
  seen.add(raw.id);
  if (raw.target !== "pier" && raw.target !== "legacy") throw new FrontRulesError(`${where}.target must be "pier" or "legacy"`);
  const families = stringList(raw.families, `${where}.families`, FAMILY);
  if (families === undefined || families.length === 0) throw new FrontRulesError(`${where}.families must name at least one path family`);
  const percent = raw.percent;
  if (percent !== undefined && (typeof percent !== "number" || !Number.isInteger(percent) || percent < 0 || percent > 100)) {
    throw new FrontRulesError(`${where}.percent must be an integer from 0 to 100`);
  }
  return {
    id: raw.id,
    families,
    namespaces: stringList(raw.namespaces, `${where}.namespaces`),
    repositories: stringList(raw.repositories, `${where}.repositories`, /^[^/]+\/.+$/),
    exceptNamespaces: stringList(raw.exceptNamespaces, `${where}.exceptNamespaces`),
    exceptRepositories: stringList(raw.exceptRepositories, `${where}.exceptRepositories`, /^[^/]+\/.+$/),
    percent: percent as number | undefined,
    target: raw.target,
  };
}

/** Validates rules as an operator sends them: `{"killSwitch": false, "rules": [...]}`. */
export function parseFrontRules(value: unknown): FrontRules {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new FrontRulesError("the rules must be a JSON object");
  const raw = value as Record<string, unknown>;
  for (const key of Object.keys(raw)) if (key !== "killSwitch" && key !== "rules") throw new FrontRulesError(`unknown field "${key}"`);
  if (raw.killSwitch !== undefined && typeof raw.killSwitch !== "boolean") throw new FrontRulesError("killSwitch must be true or false");
  if (!Array.isArray(raw.rules)) throw new FrontRulesError("rules must be a list");
  if (raw.rules.length > 1000) throw new FrontRulesError("at most 1000 rules");
  const seen = new Set<string>();
  return { killSwitch: raw.killSwitch === true, rules: raw.rules.map((rule, index) => parseRule(rule, index, seen)) };
}

/** What the front knows of a request before anything else runs. */
export interface FrontRequest {
  family: string;
  namespace: string | null;
  /** `namespace/name`, when the request names one. */
  repository: string | null;
}

const V2_RESOURCE = /^\/v2\/(.+?)\/(manifests|blobs|tags|referrers)\//;

function splitRepository(name: string, libraryNamespace: string): { namespace: string; repository: string } {
  const slash = name.indexOf("/");
  return slash === -1
    ? { namespace: libraryNamespace, repository: `${libraryNamespace}/${name}` }
    : { namespace: name.slice(0, slash), repository: name };
}

/** The first repository a token request's `scope` names (`repository:ns/name:pull,push`). */
function scopedRepository(scope: string | null): string | null {
  const match = scope === null ? null : /^repository(?:\([^)]*\))?:([^:]+):/.exec(scope);
  return match ? match[1]! : null;
}

/** A path segment decoded; as sent when it is not valid percent-encoding (nothing to match then). */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

export function classifyRequest(method: string, path: string, scope: string | null, libraryNamespace: string): FrontRequest {
  const none = { namespace: null, repository: null };
  if (path === "/v2/auth") {
    const name = scopedRepository(scope);
    return { family: "v2-auth", ...(name === null ? none : splitRepository(name, libraryNamespace)) };
  }
  if (path === "/v2" || path.startsWith("/v2/")) {
    const family = method === "GET" || method === "HEAD" ? "v2-read" : "v2-write";
    const resource = V2_RESOURCE.exec(path);
    return { family, ...(resource ? splitRepository(resource[1]!, libraryNamespace) : none) };
  }
  const api = /^\/api\/v1\/([a-z_]+)(?:\/([^/]+))?(?:\/([^/]+))?/.exec(path);
  if (api) {
    const [, family, first, second] = api;
    if (family === "repository" && first !== undefined) {
      const namespace = decodeSegment(first);
      return { family: `api:${family}`, namespace, repository: second === undefined ? null : `${namespace}/${decodeSegment(second)}` };
    }
    if (family === "organization" && first !== undefined)
      return { family: `api:${family}`, namespace: decodeSegment(first), repository: null };
    return { family: `api:${family}`, ...none };
  }
  return { family: "other", ...none };
}

/** A stable bucket 0–99 for a namespace (FNV-1a): the same tenant always lands in the same bucket. */
export function namespaceBucket(namespace: string): number {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(namespace)) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return hash % 100;
}

function familyMatches(families: readonly string[], family: string): boolean {
  return families.some((f) => f === "*" || f === family || (f === "api" && family.startsWith("api:")));
}

function ruleMatches(rule: FrontRule, request: FrontRequest): boolean {
  if (!familyMatches(rule.families, request.family)) return false;
  const { namespace, repository } = request;
  if (rule.namespaces && (namespace === null || !rule.namespaces.includes(namespace))) return false;
  if (rule.repositories && (repository === null || !rule.repositories.includes(repository))) return false;
  if (rule.exceptNamespaces && namespace !== null && rule.exceptNamespaces.includes(namespace)) return false;
  if (rule.exceptRepositories && repository !== null && rule.exceptRepositories.includes(repository)) return false;
  return rule.percent === undefined || namespaceBucket(namespace ?? "") < rule.percent;
}

/** Where a request goes, and the rule that sent it there (`default` or `kill-switch` when none did). */
export function routeRequest(rules: FrontRules, request: FrontRequest): { target: FrontTarget; rule: string } {
  if (rules.killSwitch) return { target: "legacy", rule: "kill-switch" };
  const rule = rules.rules.find((candidate) => ruleMatches(candidate, request));
  return rule ? { target: rule.target, rule: rule.id } : { target: "legacy", rule: "default" };
}
