/**
 * Auto-prune policies as Quay stores and checks them (data/model/autoprune.py,
 * util/timedeltastring.py): the `policy` column's JSON, the validation with Quay's
 * messages, and the API view. Pure: used by the REST API, the worker and config loading.
 */

export type AutoPruneMethod = "number_of_tags" | "creation_date";

/** The stored `policy` JSON (namespaceautoprunepolicy / repositoryautoprunepolicy). */
export interface AutoPrunePolicyConfig {
  method: AutoPruneMethod;
  value: number | string;
  tag_pattern: string | null;
  tag_pattern_matches: boolean;
}

/** What the API shows of a policy. */
export interface AutoPrunePolicyView {
  uuid: string;
  method: string;
  value: unknown;
  tagPattern: string | null;
  tagPatternMatches: boolean;
}

/** A policy the model refuses; the message is Quay's (400 invalid_request on the API). */
export class InvalidAutoPrunePolicy extends Error {
  override name = "InvalidAutoPrunePolicy";
}

const METHODS: readonly string[] = ["number_of_tags", "creation_date"];
const UNIT_MS: Record<string, number> = {
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
  y: 365 * 86_400_000,
};

/**
 * Quay's convert_to_timedelta in milliseconds: `<int><unit>` with s, m (minutes), h, d,
 * w, y; null when Quay would raise. Python's int() allows a sign and surrounding spaces.
 */
export function durationMs(value: string): number | null {
  const unit = UNIT_MS[value.slice(-1)];
  const digits = value.slice(0, -1);
  if (unit === undefined || !/^\s*[+-]?\d+\s*$/.test(digits)) return null;
  const amount = Number(digits.trim());
  return Number.isSafeInteger(amount * unit) ? amount * unit : null;
}

/** Quay's valid_value: truthy, an integer > 0 for number_of_tags (JSON true passes), a duration string for creation_date. */
function validValue(method: string, value: unknown): boolean {
  if (value === undefined || value === null || value === false || value === 0 || value === "") return false;
  if (method === "number_of_tags") return value === true || (typeof value === "number" && Number.isInteger(value) && value > 0);
  return typeof value === "string" && durationMs(value) !== null;
}

/**
 * Quay's assert_valid_*_autoprune_policy, plus Pier's regex check: PostgreSQL must be
 * able to compile the pattern (`isValidPattern`), or pruning would fail at run time.
 */
export function assertValidPolicy(config: Record<string, unknown>, isValidPattern: (pattern: string) => boolean = () => true): void {
  const method = config.method;
  if (typeof method !== "string" || !METHODS.includes(method)) throw new InvalidAutoPrunePolicy("Invalid method provided");
  if (!validValue(method, config.value)) throw new InvalidAutoPrunePolicy("Invalid value given for method type");
  const pattern = config.tag_pattern;
  if (pattern !== undefined && pattern !== null) {
    if (typeof pattern !== "string") throw new InvalidAutoPrunePolicy("tag_pattern must be string");
    if (pattern === "") throw new InvalidAutoPrunePolicy("tag_pattern cannot be empty");
    if (!isValidPattern(pattern)) throw new InvalidAutoPrunePolicy(`tag_pattern is not a valid regular expression: ${pattern}`);
  }
  const matches = config.tag_pattern_matches;
  if (matches !== undefined && matches !== null && typeof matches !== "boolean") {
    throw new InvalidAutoPrunePolicy("tag_pattern_matches must be bool");
  }
}

/** A stored policy's JSON, read leniently (rows may come from Quay); null when unusable. */
export function parseStoredPolicy(text: string): AutoPrunePolicyConfig | null {
  return policyConfigOf(readPolicyObject(text));
}

/** A policy object as the worker applies it; null when Quay's validation refuses it. */
export function policyConfigOf(config: Record<string, unknown>): AutoPrunePolicyConfig | null {
  try {
    assertValidPolicy(config);
  } catch {
    return null;
  }
  return {
    method: config.method as AutoPruneMethod,
    value: config.value === true ? 1 : (config.value as number | string),
    tag_pattern: typeof config.tag_pattern === "string" ? config.tag_pattern : null,
    tag_pattern_matches: config.tag_pattern_matches !== false,
  };
}

/** A stored policy's JSON object; `{}` when unreadable (such a row still lists, so it can be deleted). */
export function readPolicyObject(text: string): Record<string, unknown> {
  try {
    const raw: unknown = JSON.parse(text);
    if (typeof raw === "object" && raw !== null && !Array.isArray(raw)) return raw as Record<string, unknown>;
  } catch {
    // Falls through to the empty object.
  }
  return {};
}

/** The API view of a stored policy (Quay's get_view); fields missing in the JSON read as Quay reads them. */
export function policyView(uuid: string, text: string): AutoPrunePolicyView {
  const config = readPolicyObject(text);
  return {
    uuid,
    method: typeof config.method === "string" ? config.method : "",
    value: config.value ?? null,
    tagPattern: typeof config.tag_pattern === "string" ? config.tag_pattern : null,
    tagPatternMatches: config.tag_pattern_matches !== false,
  };
}

/** Quay's duplicate test: same method, value, pattern and matches (missing matches counts as true). */
export function samePolicy(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  return (
    a.method === b.method &&
    a.value === b.value &&
    (a.tag_pattern ?? null) === (b.tag_pattern ?? null) &&
    (a.tag_pattern_matches ?? true) === (b.tag_pattern_matches ?? true)
  );
}
