/**
 * Geo-replication settings: several storage locations (Quay's DISTRIBUTED_STORAGE_CONFIG),
 * the order reads prefer them in (DISTRIBUTED_STORAGE_PREFERENCE, whose first entry
 * receives every upload), the locations every blob must reach
 * (DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS) and, beyond Quay, a map from the client's
 * region (Cloudflare's `request.cf` country or continent) to its nearest location.
 *
 *   PIER_STORAGE_LOCATIONS        {"us": {"bucket": "pier-us", "region": "us-east-1"}, "eu": {"dir": "/srv/eu"}}
 *   PIER_STORAGE_PREFERENCE       us,eu          (spaces or commas, as QUAY_DISTRIBUTED_STORAGE_PREFERENCE)
 *   PIER_STORAGE_DEFAULT_LOCATIONS us,eu
 *   PIER_STORAGE_REGION_MAP       {"continent:EU": "eu", "country:US": "us"}
 *   PIER_STORAGE_REPLICATION      false          (FEATURE_STORAGE_REPLICATION)
 *
 * Every name must be a configured location: an unknown one is a startup error naming it.
 */
import { ConfigError, readBoolean, readString, type ConfigSource, type S3Settings } from "./config.js";
import { translateLocation } from "./quay-config/storage.js";

/** How one location's objects are reached: S3 (fields absent here come from S3_*) or a directory. */
export type LocationSettings =
  { kind: "s3"; s3: S3Settings; akamai: { domain: string; sharedSecretHex: string } | null } | { kind: "dir"; dir: string };

export interface StorageTopology {
  /** Every configured location name, the writer's (the preference's first) first. */
  locations: readonly string[];
  /** Read order on the Node runtimes; its first entry receives uploads. */
  preference: readonly string[];
  /** Locations every blob must reach, besides its namespace's `userregion` rows. */
  defaultLocations: readonly string[];
  /** Region → location, looked up by country first, then continent (ISO codes, upper case). */
  regionMap: { country: Readonly<Record<string, string>>; continent: Readonly<Record<string, string>> };
  /** Quay's FEATURE_STORAGE_REPLICATION: the replication job copies blobs to missing locations. */
  replication: boolean;
}

/** The client's region as Cloudflare reports it on `request.cf`. */
export interface ClientRegion {
  country?: string;
  continent?: string;
}

function readJsonObject(source: ConfigSource, name: string): Record<string, unknown> | null {
  const text = readString(source, name);
  if (text === null) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ConfigError(`${name} must be a JSON object, got "${text}"`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new ConfigError(`${name} must be a JSON object, got "${text}"`);
  return value as Record<string, unknown>;
}

/** A list separated by spaces or commas (Quay's env form is space-separated). */
function readNames(source: ConfigSource, name: string): string[] | null {
  const text = readString(source, name);
  return text === null ? null : text.split(/[\s,]+/).filter(Boolean);
}

function checkKnown(known: readonly string[], setting: string, names: readonly string[]): void {
  const unknown = names.find((n) => !known.includes(n));
  if (unknown !== undefined) {
    throw new ConfigError(`${setting} names storage location "${unknown}", which is not configured (configured: ${known.join(", ")})`);
  }
}

/** Names of PIER_STORAGE_LOCATIONS, or the single PIER_STORAGE_LOCATION (default "default"). */
function locationNames(source: ConfigSource): string[] {
  const json = readJsonObject(source, "PIER_STORAGE_LOCATIONS");
  if (json === null) return [readString(source, "PIER_STORAGE_LOCATION") ?? "default"];
  const names = Object.keys(json);
  if (names.length === 0) throw new ConfigError("PIER_STORAGE_LOCATIONS must name at least one location");
  for (const name of names) {
    if (name.length > 255 || !/^[\w.-]+$/.test(name)) throw new ConfigError(`PIER_STORAGE_LOCATIONS: bad location name "${name}"`);
  }
  return names;
}

function readRegionMap(source: ConfigSource, known: readonly string[]): StorageTopology["regionMap"] {
  const json = readJsonObject(source, "PIER_STORAGE_REGION_MAP") ?? {};
  const country: Record<string, string> = {};
  const continent: Record<string, string> = {};
  for (const [key, location] of Object.entries(json)) {
    const match = /^(country|continent):([A-Za-z0-9]{2})$/.exec(key);
    if (match === null) throw new ConfigError(`PIER_STORAGE_REGION_MAP keys are "country:XX" or "continent:XX", got "${key}"`);
    if (typeof location !== "string") throw new ConfigError(`PIER_STORAGE_REGION_MAP["${key}"] must be a location name`);
    checkKnown(known, "PIER_STORAGE_REGION_MAP", [location]);
    (match[1] === "country" ? country : continent)[match[2]!.toUpperCase()] = location;
  }
  return { country, continent };
}

export function loadStorageTopology(source: ConfigSource): StorageTopology {
  const names = locationNames(source);
  const single = readString(source, "PIER_STORAGE_LOCATION");
  if (single !== null) checkKnown(names, "PIER_STORAGE_LOCATION", [single]);
  const given = readNames(source, "PIER_STORAGE_PREFERENCE");
  if (given !== null) {
    checkKnown(names, "PIER_STORAGE_PREFERENCE", given);
    if (given.length === 0) throw new ConfigError("PIER_STORAGE_PREFERENCE must name at least one location");
    if (single !== null && given[0] !== single) {
      throw new ConfigError(`PIER_STORAGE_PREFERENCE's first entry receives uploads and must equal PIER_STORAGE_LOCATION ("${single}")`);
    }
  }
  const first = given?.[0] ?? single ?? names[0]!;
  // As Quay: an incomplete preference still reads from the rest, after it.
  const preference = [...new Set([first, ...(given ?? []), ...names])];
  const defaultLocations = readNames(source, "PIER_STORAGE_DEFAULT_LOCATIONS") ?? [];
  checkKnown(names, "PIER_STORAGE_DEFAULT_LOCATIONS", defaultLocations);
  return {
    locations: [first, ...names.filter((n) => n !== first)],
    preference,
    defaultLocations: [...new Set(defaultLocations)],
    regionMap: readRegionMap(source, names),
    replication: readBoolean(source, "PIER_STORAGE_REPLICATION", false),
  };
}

function text(value: unknown, where: string, fallback?: string | null): string {
  if (value === undefined && fallback) return fallback;
  if (typeof value !== "string" || value === "") throw new ConfigError(`${where} must be a non-empty string`);
  return value;
}

/**
 * Each location's settings from PIER_STORAGE_LOCATIONS, or null when it is unset (one
 * location from S3_* or PIER_STORAGE_DIR, as before). An S3 entry takes `bucket` and
 * optionally `endpoint`, `region`, `accessKeyId`, `secretAccessKey`, `storagePath`,
 * `akamaiDomain` with `akamaiSharedSecret`; what it leaves out comes from S3_*. Quay's
 * `[driver, {parameters}]` form is read too (quayLocation).
 */
export function loadLocationSettings(source: ConfigSource): Map<string, LocationSettings> | null {
  const json = readJsonObject(source, "PIER_STORAGE_LOCATIONS");
  if (json === null) return null;
  const settings = new Map<string, LocationSettings>();
  for (const [name, raw] of Object.entries(json)) {
    const where = `PIER_STORAGE_LOCATIONS["${name}"]`;
    if (Array.isArray(raw)) {
      settings.set(name, quayLocation(source, where, raw));
      continue;
    }
    if (typeof raw !== "object" || raw === null) throw new ConfigError(`${where} must be an object or Quay's [driver, parameters]`);
    const entry = raw as Record<string, unknown>;
    if ("dir" in entry) {
      settings.set(name, { kind: "dir", dir: text(entry.dir, `${where}.dir`) });
      continue;
    }
    const s3: S3Settings = {
      endpoint: text(entry.endpoint, `${where}.endpoint`, readString(source, "S3_ENDPOINT")),
      bucket: text(entry.bucket, `${where}.bucket`),
      region: text(entry.region, `${where}.region`, readString(source, "S3_REGION") ?? "us-east-1"),
      accessKeyId: text(entry.accessKeyId, `${where}.accessKeyId`, readString(source, "S3_ACCESS_KEY_ID")),
      secretAccessKey: text(entry.secretAccessKey, `${where}.secretAccessKey`, readString(source, "S3_SECRET_ACCESS_KEY")),
      storagePath: entry.storagePath === undefined ? undefined : text(entry.storagePath, `${where}.storagePath`),
    };
    const akamai =
      entry.akamaiDomain === undefined
        ? null
        : {
            domain: text(entry.akamaiDomain, `${where}.akamaiDomain`),
            sharedSecretHex: text(entry.akamaiSharedSecret, `${where}.akamaiSharedSecret`),
          };
    settings.set(name, { kind: "s3", s3, akamai });
  }
  return settings;
}

/**
 * A location in Quay's DISTRIBUTED_STORAGE_CONFIG form, `[driver, {parameters}]`, read
 * exactly as a config.yaml's (quay-config/storage.ts: the same drivers, parameters and
 * refusals); credentials Quay leaves to the environment come from S3_*. A parameter no
 * driver of that kind takes is refused: this form has no place to report it.
 */
function quayLocation(source: ConfigSource, where: string, entry: unknown[]): LocationSettings {
  const { settings, unknown } = translateLocation(where, entry);
  if (unknown.length > 0) throw new ConfigError(`${unknown[0]}: not a parameter of ${String(entry[0])}`);
  if (settings.PIER_STORAGE_DIR !== undefined) return { kind: "dir", dir: settings.PIER_STORAGE_DIR };
  const s3: S3Settings = {
    endpoint: settings.S3_ENDPOINT!,
    bucket: settings.S3_BUCKET!,
    region: settings.S3_REGION ?? "us-east-1",
    accessKeyId: text(settings.S3_ACCESS_KEY_ID, `${where}.s3_access_key`, readString(source, "S3_ACCESS_KEY_ID")),
    secretAccessKey: text(settings.S3_SECRET_ACCESS_KEY, `${where}.s3_secret_key`, readString(source, "S3_SECRET_ACCESS_KEY")),
    storagePath: settings.S3_STORAGE_PATH || undefined,
  };
  const akamai =
    settings.PIER_AKAMAI_DOMAIN === undefined
      ? null
      : { domain: settings.PIER_AKAMAI_DOMAIN, sharedSecretHex: settings.PIER_AKAMAI_SHARED_SECRET! };
  return { kind: "s3", s3, akamai };
}

/** The location a client in `region` is nearest to, by the region map; null when unmapped. */
export function nearestLocation(topology: StorageTopology, region: ClientRegion | null | undefined): string | null {
  if (!region) return null;
  const country = region.country?.toUpperCase();
  const continent = region.continent?.toUpperCase();
  return (country && topology.regionMap.country[country]) || (continent && topology.regionMap.continent[continent]) || null;
}

/**
 * The locations to read a blob from, best first: the client's nearest (edge), then the
 * preference, limited to those holding a placement; then any other placement. Quay picks
 * the first preferred placement, else a random one.
 */
export function readOrder(topology: StorageTopology, placements: readonly string[], region?: ClientRegion | null): string[] {
  const nearest = nearestLocation(topology, region);
  const order = [...(nearest === null ? [] : [nearest]), ...topology.preference];
  const placed = new Set(placements);
  return [...new Set([...order.filter((n) => placed.has(n)), ...placements])];
}
