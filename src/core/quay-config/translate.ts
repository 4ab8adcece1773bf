/**
 * Quay's config.yaml, as an operator already has it, translated into the settings Pier
 * reads from its environment (PIER_*, DATABASE_URL, REDIS_URL, S3_*). Pure: the Node
 * runtimes read the file (src/runtime/quay-config-file.ts) and lay the environment over
 * the result, so an explicit variable beats the file, which beats Pier's default.
 *
 * A key Pier cannot honour (a storage driver it lacks, a non-PostgreSQL DB_URI, a fixed
 * behaviour set otherwise) is refused with a ConfigError naming the key. Keys of Quay
 * features Pier does not serve, and keys nobody knows, are returned for one info line each.
 */
import { FIXED_SETTINGS, NOT_USED_KEYS, NOT_USED_PATTERNS } from "./keys.js";
import { translateStorage } from "./storage.js";
import {
  booleanAt,
  durationSeconds,
  integerAt,
  isMapping,
  mappingAt,
  refuse,
  shown,
  stringAt,
  stringListAt,
  type QuayMapping,
} from "./values.js";

export type PierRuntime = "origin" | "embedded";

export interface QuayConfigTranslation {
  /** What the file sets, as Pier's environment variables. */
  settings: Record<string, string>;
  /** Known Quay keys (and parameters) Pier does not use, as paths. */
  notUsed: string[];
  /** Keys (and parameters) Pier does not know, as paths. */
  unknown: string[];
  /** One line each about how a key was read (which Redis, what the runtime keeps itself). */
  remarks: string[];
}

export interface TranslateOptions {
  runtime: PierRuntime;
  /** Quay's QUAY_DISTRIBUTED_STORAGE_PREFERENCE from the environment: replaces the file's preference. */
  storagePreference?: readonly string[];
}

/** Quay feature flags and plain keys that become one Pier variable each. */
const FLAGS: Readonly<Record<string, string>> = {
  FEATURE_ANONYMOUS_ACCESS: "PIER_ANONYMOUS_ACCESS",
  FEATURE_PUBLIC_CATALOG: "PIER_PUBLIC_CATALOG",
  FEATURE_QUOTA_MANAGEMENT: "PIER_QUOTA_MANAGEMENT",
  FEATURE_PROXY_CACHE: "PIER_PROXY_CACHE",
  FEATURE_GARBAGE_COLLECTION: "PIER_GARBAGE_COLLECTION",
  FEATURE_AUTO_PRUNE: "PIER_AUTO_PRUNE",
  FEATURE_REPO_MIRROR: "PIER_REPO_MIRROR",
  FEATURE_FIPS: "PIER_FIPS",
};
const STRINGS: Readonly<Record<string, string>> = {
  SERVER_HOSTNAME: "PIER_SERVER_HOSTNAME",
  DATABASE_SECRET_KEY: "PIER_DATABASE_SECRET_KEY",
  LIBRARY_NAMESPACE: "PIER_LIBRARY_NAMESPACE",
};
const LISTS: Readonly<Record<string, string>> = {
  SSRF_ALLOWED_HOSTS: "PIER_SSRF_ALLOWED_HOSTS",
  CDN_SPECIFIC_NAMESPACES: "PIER_CDN_SPECIFIC_NAMESPACES",
};

/** Keys read below besides the tables above. */
const TRANSLATED_KEYS = new Set([
  ...Object.keys(FLAGS),
  ...Object.keys(STRINGS),
  ...Object.keys(LISTS),
  "PREFERRED_URL_SCHEME",
  "DB_URI",
  "DB_CONNECTION_ARGS",
  "BUILDLOGS_REDIS",
  "USER_EVENTS_REDIS",
  "DISTRIBUTED_STORAGE_CONFIG",
  "DISTRIBUTED_STORAGE_PREFERENCE",
  "FEATURE_STORAGE_REPLICATION",
  "SUPER_USERS",
  "FEATURE_SUPER_USERS",
  "DEFAULT_TAG_EXPIRATION",
  "TAG_EXPIRATION_OPTIONS",
  "DEFAULT_SYSTEM_REJECT_QUOTA_BYTES",
  "DEFAULT_NAMESPACE_AUTOPRUNE_POLICY",
]);

/** DB_CONNECTION_ARGS that become connection-string parameters; Quay's peewee flags need nothing. */
const DB_URL_ARGS = new Set(["sslmode", "sslrootcert", "sslcert", "sslkey"]);
const DB_PEEWEE_ARGS = new Set(["threadlocals", "autorollback"]);

/** Comma-joined, as Pier's list variables are read; an entry with a comma could not survive that. */
function joined(key: string, items: readonly string[]): string {
  const bad = items.findIndex((item) => item.includes(","));
  if (bad !== -1) refuse(`${key}[${bad}]`, `must not contain a comma, got ${shown(items[bad])}`);
  return items.join(",");
}

/** DB_URI (SQLAlchemy form) → DATABASE_URL; only PostgreSQL, with DB_CONNECTION_ARGS' TLS settings as parameters. */
function databaseUrl(quay: QuayMapping, notUsed: string[]): string | undefined {
  const uri = stringAt(quay, "DB_URI");
  if (uri === undefined) return undefined;
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(uri)?.[1]?.toLowerCase();
  if (scheme === undefined) return refuse("DB_URI", "must be a postgresql:// URI");
  const [dialect, driver] = scheme.split("+");
  if (dialect !== "postgresql" && dialect !== "postgres")
    return refuse("DB_URI", `Pier stores its data in PostgreSQL only, got a ${scheme} database`);
  if (driver !== undefined && driver !== "psycopg2")
    return refuse("DB_URI", `unknown PostgreSQL driver "${driver}" (postgresql:// or postgresql+psycopg2://)`);
  let url: URL;
  try {
    url = new URL(`postgresql${uri.slice(scheme.length)}`);
  } catch {
    return refuse("DB_URI", "is not a valid URI");
  }
  // A Unix socket comes as `?host=/run/postgresql`, as libpq takes it.
  if (url.hostname === "" && !url.searchParams.has("host")) return refuse("DB_URI", "names no database host");
  const args = mappingAt(quay, "DB_CONNECTION_ARGS") ?? {};
  for (const name of Object.keys(args)) {
    if (DB_URL_ARGS.has(name)) {
      const text = stringAt(args, name, `DB_CONNECTION_ARGS.${name}`);
      if (text !== undefined && !url.searchParams.has(name)) url.searchParams.set(name, text);
    } else if (!DB_PEEWEE_ARGS.has(name)) {
      notUsed.push(`DB_CONNECTION_ARGS.${name}`);
    }
  }
  return url.toString();
}

const REDIS_KEYS = new Set(["host", "port", "password", "username", "db", "ssl"]);

/** A redis-py kwargs mapping (BUILDLOGS_REDIS, USER_EVENTS_REDIS) as a redis:// or rediss:// URL. */
function redisUrl(key: string, redis: QuayMapping, notUsed: string[]): string {
  const host = stringAt(redis, "host", `${key}.host`) ?? "localhost";
  const port = integerAt(redis, "port", `${key}.port`, 1, 65_535) ?? 6379;
  const db = integerAt(redis, "db", `${key}.db`, 0) ?? 0;
  const ssl = booleanAt(redis, "ssl", `${key}.ssl`) ?? false;
  const password = stringAt(redis, "password", `${key}.password`);
  const username = stringAt(redis, "username", `${key}.username`);
  notUsed.push(
    ...Object.keys(redis)
      .filter((name) => !REDIS_KEYS.has(name))
      .map((name) => `${key}.${name}`),
  );
  const user = username === undefined ? "" : encodeURIComponent(username);
  const auth = password === undefined ? (user ? `${user}@` : "") : `${user}:${encodeURIComponent(password)}@`;
  const bracketed = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  return `${ssl ? "rediss" : "redis"}://${auth}${bracketed}:${port}${db === 0 ? "" : `/${db}`}`;
}

/** Quay keeps its locks in USER_EVENTS_REDIS; Pier has one Redis (cache and job leases) and takes that one. */
function redisSettings(quay: QuayMapping, notUsed: string[], remarks: string[]): string | undefined {
  const events = mappingAt(quay, "USER_EVENTS_REDIS");
  const buildlogs = mappingAt(quay, "BUILDLOGS_REDIS");
  const eventsUrl = events && redisUrl("USER_EVENTS_REDIS", events, notUsed);
  const buildlogsUrl = buildlogs && redisUrl("BUILDLOGS_REDIS", buildlogs, notUsed);
  if (eventsUrl !== undefined && buildlogsUrl !== undefined && eventsUrl !== buildlogsUrl) {
    remarks.push("BUILDLOGS_REDIS and USER_EVENTS_REDIS differ: Pier uses one Redis, USER_EVENTS_REDIS");
  }
  return eventsUrl ?? buildlogsUrl;
}

function durationAt(key: string, text: string): number {
  const seconds = durationSeconds(text);
  if (seconds === null) refuse(key, `must be a number and a unit (s, m, h, d, w), e.g. "2w", got ${shown(text)}`);
  return seconds;
}

/** Quay's value after YAML: bigint integers back to numbers for JSON (Pier's policy reader checks them). */
function jsonOf(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? Number(v) : v));
}

function checkFixed(quay: QuayMapping): void {
  for (const [key, fixed] of Object.entries(FIXED_SETTINGS)) {
    const value = quay[key];
    if (value === undefined || value === null) continue;
    const same = typeof fixed.value === "boolean" ? value === fixed.value : String(value).toLowerCase() === fixed.value.toLowerCase();
    if (!same) refuse(key, `${shown(value)} is not supported: ${fixed.why}`);
  }
}

export function translateQuayConfig(file: unknown, options: TranslateOptions): QuayConfigTranslation {
  if (file === null || file === undefined) return { settings: {}, notUsed: [], unknown: [], remarks: [] };
  if (!isMapping(file)) return refuse("config.yaml", `must be a mapping of keys, got ${shown(file)}`);
  const quay = file;
  checkFixed(quay);
  const settings: Record<string, string> = {};
  const notUsed: string[] = [];
  const unknown: string[] = [];
  const remarks: string[] = [];

  for (const [key, name] of Object.entries(FLAGS)) {
    const value = booleanAt(quay, key);
    if (value !== undefined) settings[name] = String(value);
  }
  for (const [key, name] of Object.entries(STRINGS)) {
    const value = stringAt(quay, key);
    if (value !== undefined && value.trim() !== "") settings[name] = value.trim();
  }
  for (const [key, name] of Object.entries(LISTS)) {
    const value = stringListAt(quay, key);
    if (value !== undefined) settings[name] = joined(key, value);
  }

  const scheme = stringAt(quay, "PREFERRED_URL_SCHEME");
  if (scheme !== undefined) {
    if (scheme !== "http" && scheme !== "https") refuse("PREFERRED_URL_SCHEME", `must be http or https, got ${shown(scheme)}`);
    settings.PIER_URL_SCHEME = scheme;
  }

  // Quay: without FEATURE_SUPER_USERS nobody is a superuser, whatever SUPER_USERS says.
  const superUsers = stringListAt(quay, "SUPER_USERS");
  if (booleanAt(quay, "FEATURE_SUPER_USERS") === false) settings.PIER_SUPER_USERS = "";
  else if (superUsers !== undefined) settings.PIER_SUPER_USERS = joined("SUPER_USERS", superUsers);

  const expiration = stringAt(quay, "DEFAULT_TAG_EXPIRATION");
  if (expiration !== undefined) settings.PIER_DEFAULT_TAG_EXPIRATION_S = String(durationAt("DEFAULT_TAG_EXPIRATION", expiration));
  (stringListAt(quay, "TAG_EXPIRATION_OPTIONS") ?? []).forEach((option, i) => durationAt(`TAG_EXPIRATION_OPTIONS[${i}]`, option));

  const rejectBytes = integerAt(quay, "DEFAULT_SYSTEM_REJECT_QUOTA_BYTES", "DEFAULT_SYSTEM_REJECT_QUOTA_BYTES", 0);
  if (rejectBytes !== undefined) settings.PIER_DEFAULT_SYSTEM_REJECT_QUOTA_BYTES = String(rejectBytes);
  const policy = mappingAt(quay, "DEFAULT_NAMESPACE_AUTOPRUNE_POLICY");
  if (policy !== undefined) settings.PIER_DEFAULT_NAMESPACE_AUTOPRUNE_POLICY = jsonOf(policy);

  const database = databaseUrl(quay, notUsed);
  const redis = redisSettings(quay, notUsed, remarks);
  const storage = translateStorage(quay, options.storagePreference);
  if (storage !== null) {
    notUsed.push(...storage.notUsed);
    unknown.push(...storage.unknown);
  }

  if (options.runtime === "embedded") {
    // pier start keeps its database in PGlite and its cache in memory; blobs only on a filesystem.
    const own = [database !== undefined && "DB_URI", redis !== undefined && "BUILDLOGS_REDIS/USER_EVENTS_REDIS"].filter(Boolean);
    if (own.length > 0)
      remarks.push(`${own.join(" and ")} not used: pier start keeps its database and cache itself (pier origin uses them)`);
    const drivers = storage === null ? {} : (storage.replicated ?? { [storage.location]: storage.driver });
    const remote = Object.entries(drivers).find(([, driver]) => driver !== "LocalStorage");
    if (remote !== undefined) {
      refuse(
        `DISTRIBUTED_STORAGE_CONFIG.${remote[0]}`,
        `pier start stores blobs on a filesystem (LocalStorage) only; run pier origin for ${remote[1]}`,
      );
    }
  } else {
    if (database !== undefined) settings.DATABASE_URL = database;
    if (redis !== undefined) settings.REDIS_URL = redis;
  }
  if (storage !== null) Object.assign(settings, storage.settings);

  for (const key of Object.keys(quay)) {
    if (TRANSLATED_KEYS.has(key) || FIXED_SETTINGS[key] !== undefined) continue;
    // Replication uses the default locations; without it they are reported as not used.
    if (key === "DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS" && storage?.replicated !== undefined) continue;
    if (NOT_USED_KEYS.has(key) || NOT_USED_PATTERNS.some((pattern) => pattern.test(key))) notUsed.push(key);
    else unknown.push(key);
  }
  return { settings, notUsed, unknown, remarks };
}

/** Storage variables: an operator who sets one of these in the environment chooses storage there, not in the file. */
const STORAGE_CHOICE = ["S3_ENDPOINT", "PIER_STORAGE_DIR", "PIER_STORAGE_LOCATIONS"];
const STORAGE_FROM_FILE = [
  "PIER_STORAGE_LOCATIONS",
  "PIER_STORAGE_PREFERENCE",
  "PIER_STORAGE_DEFAULT_LOCATIONS",
  "PIER_STORAGE_DIR",
  "S3_ENDPOINT",
  "S3_BUCKET",
  "S3_REGION",
  "S3_STORAGE_PATH",
  "S3_ACCESS_KEY_ID",
  "S3_SECRET_ACCESS_KEY",
  "PIER_AKAMAI_DOMAIN",
  "PIER_AKAMAI_SHARED_SECRET",
];

/**
 * The settings a runtime reads: the environment (non-empty values) over the file's. A
 * storage chosen in the environment (S3_ENDPOINT or PIER_STORAGE_DIR) replaces the file's
 * storage as a whole, so a bucket is never half from one and half from the other.
 */
export function overlayEnvironment(
  translation: QuayConfigTranslation,
  env: Readonly<Record<string, string | undefined>>,
): Record<string, string> {
  const fromEnv = Object.fromEntries(
    Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1].trim() !== ""),
  );
  const fromFile = { ...translation.settings };
  if (STORAGE_CHOICE.some((name) => fromEnv[name] !== undefined)) for (const name of STORAGE_FROM_FILE) delete fromFile[name];
  const merged = { ...fromFile, ...fromEnv };
  const location = merged.PIER_STORAGE_LOCATION ?? "default";
  if (fromFile.S3_ENDPOINT !== undefined) {
    for (const [name, param] of [
      ["S3_ACCESS_KEY_ID", "s3_access_key"],
      ["S3_SECRET_ACCESS_KEY", "s3_secret_key"],
    ] as const) {
      if (merged[name] === undefined)
        refuse(`DISTRIBUTED_STORAGE_CONFIG.${location}.${param}`, `is required (or set ${name}): Pier reads no other AWS credentials`);
    }
  }
  return merged;
}
