/**
 * Quay's DISTRIBUTED_STORAGE_CONFIG and DISTRIBUTED_STORAGE_PREFERENCE → Pier's storage
 * settings (PIER_STORAGE_LOCATION, PIER_STORAGE_DIR, S3_*, PIER_AKAMAI_*). Pier serves one
 * location: the first preferred one, where Quay puts every upload.
 */
import {
  booleanAt,
  integerAt,
  isMapping,
  mappingAt,
  refuse,
  requiredStringAt,
  shown,
  stringAt,
  stringListAt,
  type QuayMapping,
} from "./values.js";

/** The drivers Pier can act as, and the parameters each takes (Quay's exact kwargs). */
const S3_PARAMETERS = [
  "storage_path",
  "s3_bucket",
  "s3_access_key",
  "s3_secret_key",
  "s3_region",
  "host",
  "port",
  "endpoint_url",
  "maximum_chunk_size_gb",
  "minimum_chunk_size_mb",
  "aws_session_token",
  "signature_version",
];
const DRIVER_PARAMETERS: Readonly<Record<string, readonly string[]>> = {
  LocalStorage: ["storage_path"],
  S3Storage: S3_PARAMETERS,
  AkamaiS3Storage: [...S3_PARAMETERS, "akamai_domain", "akamai_shared_secret"],
  RadosGWStorage: [
    "hostname",
    "is_secure",
    "storage_path",
    "access_key",
    "secret_key",
    "bucket_name",
    "region_name",
    "signature_version",
    "port",
    "minimum_chunk_size_mb",
    "maximum_chunk_size_mb",
    "server_side_assembly",
  ],
};

/** Quay's other drivers, named so the refusal says "not supported" rather than "unknown". */
const UNSUPPORTED_DRIVERS: Readonly<Record<string, string>> = {
  CloudFrontedS3Storage: "Pier cannot sign CloudFront URLs; S3Storage (presigned S3 redirects) or AkamaiS3Storage serve the same bucket",
  GoogleCloudStorage: "Pier has no Google Cloud Storage driver",
  SwiftStorage: "Pier has no Swift driver",
  AzureStorage: "Pier has no Azure driver",
  CloudFlareStorage: "Pier cannot sign Quay's Cloudflare URLs; S3Storage serves the same bucket",
  MultiCDNStorage: "Pier has no multi-CDN driver",
  IBMCloudStorage: "Pier has no IBM Cloud driver",
  STSS3Storage: "Pier has no STS role credentials; S3Storage with access keys serves the same bucket",
};

/** Chunk sizes and assembly mode: Pier sizes its own multipart uploads. */
const TUNING_PARAMETERS = new Set(["maximum_chunk_size_gb", "minimum_chunk_size_mb", "maximum_chunk_size_mb", "server_side_assembly"]);

export interface StorageTranslation {
  settings: Record<string, string>;
  /** The location Pier serves and its driver. */
  location: string;
  driver: string;
  /** Keys given but not used, as paths (`DISTRIBUTED_STORAGE_CONFIG.eu`, `….minimum_chunk_size_mb`). */
  notUsed: string[];
  /** Parameters no Quay driver of that kind takes. */
  unknown: string[];
  /** With FEATURE_STORAGE_REPLICATION: every location is served (PIER_STORAGE_LOCATIONS), each with its driver. */
  replicated?: Record<string, string>;
}

function awsEndpoint(region: string): string {
  return `https://s3.${region}.amazonaws.com${region.startsWith("cn-") ? ".cn" : ""}`;
}

function hostPort(host: string, port: number | undefined): string {
  const bracketed = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  return port === undefined ? bracketed : `${bracketed}:${port}`;
}

/** S3Storage's kwargs as Quay's S3 connection reads them: a region forces AWS's regional endpoint. */
function s3Settings(params: QuayMapping, path: string): Record<string, string> {
  if (stringAt(params, "aws_session_token", `${path}.aws_session_token`) !== undefined) {
    refuse(`${path}.aws_session_token`, "temporary credentials are not supported; give s3_access_key and s3_secret_key");
  }
  const region = stringAt(params, "s3_region", `${path}.s3_region`);
  const endpointUrl = stringAt(params, "endpoint_url", `${path}.endpoint_url`);
  const host = stringAt(params, "host", `${path}.host`);
  const port = integerAt(params, "port", `${path}.port`, 1, 65_535);
  const endpoint = region
    ? awsEndpoint(region)
    : endpointUrl
      ? endpointUrl
      : host
        ? `https://${hostPort(host, port)}`
        : "https://s3.amazonaws.com";
  const settings: Record<string, string> = {
    S3_ENDPOINT: endpoint,
    S3_BUCKET: requiredStringAt(params, "s3_bucket", `${path}.s3_bucket`),
    S3_REGION: region ?? "us-east-1",
    S3_STORAGE_PATH: stringAt(params, "storage_path", `${path}.storage_path`) ?? "",
  };
  const accessKey = stringAt(params, "s3_access_key", `${path}.s3_access_key`);
  const secretKey = stringAt(params, "s3_secret_key", `${path}.s3_secret_key`);
  if (accessKey !== undefined) settings.S3_ACCESS_KEY_ID = accessKey;
  if (secretKey !== undefined) settings.S3_SECRET_ACCESS_KEY = secretKey;
  return settings;
}

function radosSettings(params: QuayMapping, path: string): Record<string, string> {
  const hostname = requiredStringAt(params, "hostname", `${path}.hostname`);
  const secure = booleanAt(params, "is_secure", `${path}.is_secure`) ?? false;
  const port = integerAt(params, "port", `${path}.port`, 1, 65_535);
  return {
    S3_ENDPOINT: `${secure ? "https" : "http"}://${hostPort(hostname, port)}`,
    S3_BUCKET: requiredStringAt(params, "bucket_name", `${path}.bucket_name`),
    S3_REGION: stringAt(params, "region_name", `${path}.region_name`) ?? "us-east-1",
    S3_STORAGE_PATH: stringAt(params, "storage_path", `${path}.storage_path`) ?? "",
    S3_ACCESS_KEY_ID: requiredStringAt(params, "access_key", `${path}.access_key`),
    S3_SECRET_ACCESS_KEY: requiredStringAt(params, "secret_key", `${path}.secret_key`),
  };
}

function driverSettings(driver: string, params: QuayMapping, path: string): Record<string, string> {
  const signature = stringAt(params, "signature_version", `${path}.signature_version`);
  if (signature !== undefined && signature !== "s3v4")
    refuse(`${path}.signature_version`, `only s3v4 is supported, got ${shown(signature)}`);
  switch (driver) {
    case "LocalStorage":
      return { PIER_STORAGE_DIR: requiredStringAt(params, "storage_path", `${path}.storage_path`) };
    case "S3Storage":
      return s3Settings(params, path);
    case "AkamaiS3Storage":
      return {
        ...s3Settings(params, path),
        PIER_AKAMAI_DOMAIN: requiredStringAt(params, "akamai_domain", `${path}.akamai_domain`),
        PIER_AKAMAI_SHARED_SECRET: requiredStringAt(params, "akamai_shared_secret", `${path}.akamai_shared_secret`),
      };
    default:
      return radosSettings(params, path);
  }
}

/** Which configured location Pier serves: the first preferred one, or the only one. */
function chooseLocation(locations: readonly string[], preference: readonly string[] | undefined): string {
  const first = preference?.[0];
  if (first !== undefined) {
    if (!locations.includes(first))
      refuse("DISTRIBUTED_STORAGE_PREFERENCE", `names "${first}", which DISTRIBUTED_STORAGE_CONFIG does not define`);
    return first;
  }
  if (locations.length === 1) return locations[0]!;
  if (locations.length === 0) return refuse("DISTRIBUTED_STORAGE_CONFIG", "defines no storage location");
  return refuse(
    "DISTRIBUTED_STORAGE_PREFERENCE",
    `is required with several storage locations (${locations.join(", ")}): Pier serves the first`,
  );
}

/**
 * Translates the storage keys; `preferenceOverride` is Quay's QUAY_DISTRIBUTED_STORAGE_PREFERENCE
 * (space-separated in the environment), which replaces the file's preference.
 */
export function translateStorage(quay: QuayMapping, preferenceOverride: readonly string[] | undefined): StorageTranslation | null {
  const config = mappingAt(quay, "DISTRIBUTED_STORAGE_CONFIG");
  const preference = preferenceOverride ?? stringListAt(quay, "DISTRIBUTED_STORAGE_PREFERENCE");
  const replication = booleanAt(quay, "FEATURE_STORAGE_REPLICATION") ?? false;
  if (config === undefined) {
    if (replication) refuse("FEATURE_STORAGE_REPLICATION", "needs DISTRIBUTED_STORAGE_CONFIG with the locations to replicate between");
    if (preference !== undefined && preference.length > 0)
      refuse("DISTRIBUTED_STORAGE_PREFERENCE", "is set but DISTRIBUTED_STORAGE_CONFIG is not");
    return null;
  }
  if (replication) return translateReplicated(quay, config, preference);
  const location = chooseLocation(Object.keys(config), preference);
  const path = `DISTRIBUTED_STORAGE_CONFIG.${location}`;
  const translated = translateLocation(path, config[location]);
  const notUsed = Object.keys(config)
    .filter((name) => name !== location)
    .map((name) => `DISTRIBUTED_STORAGE_CONFIG.${name}`);
  notUsed.push(...translated.tuning);
  return {
    settings: { ...translated.settings, PIER_STORAGE_LOCATION: location },
    location,
    driver: translated.driver,
    notUsed,
    unknown: translated.unknown,
  };
}

/** One location's settings, translated: its driver, Pier's settings for it and the parameters reported. */
export interface LocationTranslation {
  driver: string;
  /** S3_*, PIER_STORAGE_DIR and PIER_AKAMAI_* as the single-location settings name them. */
  settings: Record<string, string>;
  /** Tuning parameters Pier does not use, as paths. */
  tuning: string[];
  /** Parameters no Quay driver of that kind takes, as paths. */
  unknown: string[];
}

/**
 * One `DISTRIBUTED_STORAGE_CONFIG` entry, `[DriverName, {parameters}]`, at `path` (for
 * messages) → Pier's settings; refuses drivers and values Pier cannot honour. Also how
 * PIER_STORAGE_LOCATIONS reads entries in Quay's form (core/storage-topology.ts).
 */
export function translateLocation(path: string, entry: unknown): LocationTranslation {
  if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== "string" || !isMapping(entry[1])) {
    return refuse(path, `must be [DriverName, {parameters}], got ${shown(entry)}`);
  }
  const [driver, params] = entry as [string, QuayMapping];
  if (UNSUPPORTED_DRIVERS[driver] !== undefined) refuse(path, `${driver} is not supported: ${UNSUPPORTED_DRIVERS[driver]}`);
  const known = DRIVER_PARAMETERS[driver === "RHOCSStorage" ? "RadosGWStorage" : driver];
  if (known === undefined) refuse(path, `unknown storage driver ${shown(driver)}`);
  return {
    driver,
    settings: driverSettings(driver, params, path),
    tuning: Object.keys(params)
      .filter((p) => TUNING_PARAMETERS.has(p) && known.includes(p))
      .map((p) => `${path}.${p}`),
    unknown: Object.keys(params)
      .filter((p) => !known.includes(p))
      .map((p) => `${path}.${p}`),
  };
}

/**
 * FEATURE_STORAGE_REPLICATION: every location of DISTRIBUTED_STORAGE_CONFIG is served
 * (PIER_STORAGE_LOCATIONS in Quay's form, parameters no driver takes left out), in the
 * preference's order, and blobs replicate to DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS.
 */
function translateReplicated(quay: QuayMapping, config: QuayMapping, preference: readonly string[] | undefined): StorageTranslation {
  const names = Object.keys(config);
  // Quay refuses to boot: "Missing storage preference for geo-replication".
  if (preference === undefined || preference.length === 0)
    refuse("DISTRIBUTED_STORAGE_PREFERENCE", "is required with FEATURE_STORAGE_REPLICATION: its first location receives uploads");
  const defaults = stringListAt(quay, "DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS") ?? [];
  for (const [key, list] of [
    ["DISTRIBUTED_STORAGE_PREFERENCE", preference],
    ["DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS", defaults],
  ] as const) {
    const missing = list.find((name) => !names.includes(name));
    if (missing !== undefined) refuse(key, `names "${missing}", which DISTRIBUTED_STORAGE_CONFIG does not define`);
  }
  const locations: Record<string, [string, QuayMapping]> = {};
  const drivers: Record<string, string> = {};
  const notUsed: string[] = [];
  const unknown: string[] = [];
  for (const name of names) {
    const path = `DISTRIBUTED_STORAGE_CONFIG.${name}`;
    const translated = translateLocation(path, config[name]);
    const params = (config[name] as [string, QuayMapping])[1];
    locations[name] = [
      translated.driver,
      Object.fromEntries(Object.entries(params).filter(([p]) => !translated.unknown.includes(`${path}.${p}`))),
    ];
    drivers[name] = translated.driver;
    notUsed.push(...translated.tuning);
    unknown.push(...translated.unknown);
  }
  return {
    settings: {
      PIER_STORAGE_LOCATIONS: JSON.stringify(locations),
      PIER_STORAGE_PREFERENCE: preference.join(" "),
      PIER_STORAGE_DEFAULT_LOCATIONS: defaults.join(" "),
      PIER_STORAGE_REPLICATION: "true",
      PIER_STORAGE_LOCATION: preference[0]!,
    },
    location: preference[0]!,
    driver: drivers[preference[0]!]!,
    notUsed,
    unknown,
    replicated: drivers,
  };
}
