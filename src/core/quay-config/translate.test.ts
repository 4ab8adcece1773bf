import { describe, expect, it } from "vitest";
import { ConfigError, loadAkamaiSettings, loadRegistryConfig, loadS3Settings } from "../config.js";
import { loadLocationSettings } from "../storage-topology.js";
import { overlayEnvironment, translateQuayConfig, type TranslateOptions } from "./translate.js";

const origin: TranslateOptions = { runtime: "origin" };
const settingsOf = (quay: unknown, options: TranslateOptions = origin) => translateQuayConfig(quay, options).settings;
const refusal = (quay: unknown, options: TranslateOptions = origin) => {
  try {
    translateQuayConfig(quay, options);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error("not refused");
};

/** A registry-only bundle as Quay's config tool writes it. */
const BUNDLE = {
  AUTHENTICATION_TYPE: "Database",
  SERVER_HOSTNAME: "quay.example.com",
  PREFERRED_URL_SCHEME: "https",
  DB_URI: "postgresql://quay:s%40cret@db.example.com:5432/quay",
  DB_CONNECTION_ARGS: { autorollback: true, threadlocals: true, sslmode: "verify-full" },
  DATABASE_SECRET_KEY: "a-secret",
  SECRET_KEY: "session-secret",
  SETUP_COMPLETE: true,
  BUILDLOGS_REDIS: { host: "redis.example.com", port: 6379 },
  USER_EVENTS_REDIS: { host: "redis.example.com", port: 6379 },
  DISTRIBUTED_STORAGE_CONFIG: { default: ["LocalStorage", { storage_path: "/datastorage/registry" }] },
  DISTRIBUTED_STORAGE_PREFERENCE: ["default"],
  DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS: [],
  SUPER_USERS: ["quayadmin", "ops"],
  FEATURE_QUOTA_MANAGEMENT: true,
  FEATURE_GARBAGE_COLLECTION: true,
  FEATURE_MAILING: false,
  FEATURE_BUILD_SUPPORT: false,
  DEFAULT_TAG_EXPIRATION: "2w",
  TAG_EXPIRATION_OPTIONS: ["0s", "1d", "1w", "2w", "4w"],
  REGISTRY_TITLE: "Quay",
  MY_OWN_SETTING: 1,
};

describe("Quay config.yaml → Pier settings", () => {
  it("translates a registry-only bundle, reporting what Pier does not use and what it does not know", () => {
    const translation = translateQuayConfig(BUNDLE, origin);
    expect(translation.settings).toEqual({
      PIER_SERVER_HOSTNAME: "quay.example.com",
      PIER_URL_SCHEME: "https",
      DATABASE_URL: "postgresql://quay:s%40cret@db.example.com:5432/quay?sslmode=verify-full",
      PIER_DATABASE_SECRET_KEY: "a-secret",
      REDIS_URL: "redis://redis.example.com:6379",
      PIER_STORAGE_DIR: "/datastorage/registry",
      PIER_STORAGE_LOCATION: "default",
      PIER_SUPER_USERS: "quayadmin,ops",
      PIER_QUOTA_MANAGEMENT: "true",
      PIER_GARBAGE_COLLECTION: "true",
      PIER_DEFAULT_TAG_EXPIRATION_S: "1209600",
    });
    expect(translation.notUsed).toEqual([
      "SECRET_KEY",
      "SETUP_COMPLETE",
      "DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS",
      "FEATURE_MAILING",
      "FEATURE_BUILD_SUPPORT",
      "REGISTRY_TITLE",
    ]);
    expect(translation.unknown).toEqual(["MY_OWN_SETTING"]);
    expect(translation.remarks).toEqual([]);
    const config = loadRegistryConfig(overlayEnvironment(translation, {}));
    expect(config).toMatchObject({
      serverHostname: "quay.example.com",
      urlScheme: "https",
      superUsers: ["quayadmin", "ops"],
      databaseSecretKey: "a-secret",
      storageLocation: "default",
      quota: { enabled: true, systemRejectBytes: 0 },
      defaultTagExpirationSeconds: 1_209_600,
    });
  });

  it("maps every FEATURE flag Pier implements, and the settings that go with them", () => {
    const settings = settingsOf({
      FEATURE_ANONYMOUS_ACCESS: false,
      FEATURE_PUBLIC_CATALOG: true,
      FEATURE_QUOTA_MANAGEMENT: true,
      DEFAULT_SYSTEM_REJECT_QUOTA_BYTES: 10_737_418_240n,
      FEATURE_PROXY_CACHE: true,
      FEATURE_GARBAGE_COLLECTION: false,
      FEATURE_AUTO_PRUNE: true,
      DEFAULT_NAMESPACE_AUTOPRUNE_POLICY: { method: "number_of_tags", value: 10n },
      FEATURE_REPO_MIRROR: true,
      LIBRARY_NAMESPACE: "lib",
      SSRF_ALLOWED_HOSTS: ["mirror.internal", "10.0.0.0/8"],
      FEATURE_FIPS: true,
    });
    // Read by the Node runtimes' start check (src/runtime/fips.ts), not the registry config.
    expect(settings.PIER_FIPS).toBe("true");
    const config = loadRegistryConfig(settings);
    expect(config).toMatchObject({
      anonymousAccess: false,
      publicCatalog: true,
      quota: { enabled: true, systemRejectBytes: 10_737_418_240 },
      proxyCache: true,
      garbageCollection: false,
      autoPrune: true,
      defaultNamespaceAutoPrunePolicy: { method: "number_of_tags", value: 10, tag_pattern: null, tag_pattern_matches: true },
      repoMirror: true,
      libraryNamespace: "lib",
      ssrfAllowedHosts: ["mirror.internal", "10.0.0.0/8"],
    });
  });

  it("makes nobody a superuser without FEATURE_SUPER_USERS, as Quay", () => {
    expect(settingsOf({ SUPER_USERS: ["root"], FEATURE_SUPER_USERS: false }).PIER_SUPER_USERS).toBe("");
    expect(loadRegistryConfig({ PIER_SUPER_USERS: "admin", ...settingsOf({ SUPER_USERS: [] }) }).superUsers).toEqual([]);
  });

  it("reads Tag expiration durations with Quay's units (m is minutes) and checks the options", () => {
    expect(settingsOf({ DEFAULT_TAG_EXPIRATION: "90m" }).PIER_DEFAULT_TAG_EXPIRATION_S).toBe("5400");
    expect(settingsOf({ DEFAULT_TAG_EXPIRATION: "0s" }).PIER_DEFAULT_TAG_EXPIRATION_S).toBe("0");
    expect(refusal({ DEFAULT_TAG_EXPIRATION: "2 weeks" })).toMatch(/^DEFAULT_TAG_EXPIRATION: must be a number and a unit/);
    expect(refusal({ TAG_EXPIRATION_OPTIONS: ["1d", "1y"] })).toMatch(/^TAG_EXPIRATION_OPTIONS\[1\]: must be a number and a unit/);
  });

  it("takes DB_URI in SQLAlchemy form, PostgreSQL only", () => {
    expect(settingsOf({ DB_URI: "postgresql+psycopg2://u:p@db:5433/quay" }).DATABASE_URL).toBe("postgresql://u:p@db:5433/quay");
    expect(settingsOf({ DB_URI: "postgresql://db/quay?sslmode=disable", DB_CONNECTION_ARGS: { sslmode: "require" } }).DATABASE_URL).toBe(
      "postgresql://db/quay?sslmode=disable",
    );
    expect(translateQuayConfig({ DB_URI: "postgresql://db/quay", DB_CONNECTION_ARGS: { stale_timeout: 60n } }, origin).notUsed).toEqual([
      "DB_CONNECTION_ARGS.stale_timeout",
    ]);
    expect(refusal({ DB_URI: "mysql+pymysql://quay:quay@db/quay" })).toBe(
      "DB_URI: Pier stores its data in PostgreSQL only, got a mysql+pymysql database",
    );
    expect(refusal({ DB_URI: "sqlite:///test/data/test.db" })).toBe(
      "DB_URI: Pier stores its data in PostgreSQL only, got a sqlite database",
    );
    expect(refusal({ DB_URI: "postgresql+asyncpg://db/quay" })).toMatch(/^DB_URI: unknown PostgreSQL driver/);
    expect(refusal({ DB_URI: "db.example.com/quay" })).toBe("DB_URI: must be a postgresql:// URI");
    expect(settingsOf({ DB_URI: "postgresql:///quay?host=/run/postgresql&user=quay" }).DATABASE_URL).toBe(
      "postgresql:///quay?host=/run/postgresql&user=quay",
    );
    expect(refusal({ DB_URI: "postgresql:///quay" })).toBe("DB_URI: names no database host");
  });

  it("builds one Redis URL from redis-py's kwargs, USER_EVENTS_REDIS first", () => {
    const redis = { host: "cache.internal", port: 6380n, password: "p@ss:word", db: 2n, ssl: true, socket_timeout: 5n };
    const translation = translateQuayConfig({ USER_EVENTS_REDIS: redis, BUILDLOGS_REDIS: { host: "other" } }, origin);
    expect(translation.settings.REDIS_URL).toBe("rediss://:p%40ss%3Aword@cache.internal:6380/2");
    expect(translation.remarks).toEqual(["BUILDLOGS_REDIS and USER_EVENTS_REDIS differ: Pier uses one Redis, USER_EVENTS_REDIS"]);
    expect(translation.notUsed).toEqual(["USER_EVENTS_REDIS.socket_timeout"]);
    expect(settingsOf({ BUILDLOGS_REDIS: { host: "logs" } }).REDIS_URL).toBe("redis://logs:6379");
    expect(settingsOf({ BUILDLOGS_REDIS: {} }).REDIS_URL).toBe("redis://localhost:6379");
    expect(refusal({ USER_EVENTS_REDIS: { host: "r", port: "six" } })).toMatch(/^USER_EVENTS_REDIS\.port: must be an integer/);
    expect(refusal({ BUILDLOGS_REDIS: "redis://r" })).toBe('BUILDLOGS_REDIS: must be a mapping, got "redis://r"');
  });

  describe("storage", () => {
    const s3 = { storage_path: "/registry", s3_bucket: "quay-bucket", s3_access_key: "AK", s3_secret_key: "SK" };
    const storage = (driver: string, params: object, extra: object = {}) => ({
      DISTRIBUTED_STORAGE_CONFIG: { main: [driver, params] },
      DISTRIBUTED_STORAGE_PREFERENCE: ["main"],
      ...extra,
    });

    it("S3Storage: a region forces AWS's regional endpoint; else endpoint_url, host and port, or AWS's global one", () => {
      expect(settingsOf(storage("S3Storage", { ...s3, s3_region: "eu-west-1", endpoint_url: "https://ignored" }))).toEqual({
        S3_ENDPOINT: "https://s3.eu-west-1.amazonaws.com",
        S3_BUCKET: "quay-bucket",
        S3_REGION: "eu-west-1",
        S3_STORAGE_PATH: "/registry",
        S3_ACCESS_KEY_ID: "AK",
        S3_SECRET_ACCESS_KEY: "SK",
        PIER_STORAGE_LOCATION: "main",
      });
      expect(settingsOf(storage("S3Storage", { ...s3, s3_region: "cn-north-1" })).S3_ENDPOINT).toBe(
        "https://s3.cn-north-1.amazonaws.com.cn",
      );
      expect(settingsOf(storage("S3Storage", { ...s3, endpoint_url: "http://minio:9000" })).S3_ENDPOINT).toBe("http://minio:9000");
      expect(settingsOf(storage("S3Storage", { ...s3, host: "ceph.internal", port: 8443n })).S3_ENDPOINT).toBe(
        "https://ceph.internal:8443",
      );
      const global = settingsOf(storage("S3Storage", s3));
      expect([global.S3_ENDPOINT, global.S3_REGION]).toEqual(["https://s3.amazonaws.com", "us-east-1"]);
      expect(loadS3Settings(global)).toEqual({
        endpoint: "https://s3.amazonaws.com",
        bucket: "quay-bucket",
        region: "us-east-1",
        accessKeyId: "AK",
        secretAccessKey: "SK",
        storagePath: "/registry",
      });
    });

    it("RadosGWStorage and RHOCSStorage: hostname, is_secure and port make the endpoint; tuning parameters are not used", () => {
      const rados = {
        hostname: "rgw.internal",
        is_secure: true,
        port: 7480n,
        storage_path: "/datastorage",
        access_key: "AK",
        secret_key: "SK",
        bucket_name: "quay",
        minimum_chunk_size_mb: 5n,
      };
      const translation = translateQuayConfig(storage("RadosGWStorage", rados), origin);
      expect(translation.settings).toEqual({
        S3_ENDPOINT: "https://rgw.internal:7480",
        S3_BUCKET: "quay",
        S3_REGION: "us-east-1",
        S3_STORAGE_PATH: "/datastorage",
        S3_ACCESS_KEY_ID: "AK",
        S3_SECRET_ACCESS_KEY: "SK",
        PIER_STORAGE_LOCATION: "main",
      });
      expect(translation.notUsed).toEqual(["DISTRIBUTED_STORAGE_CONFIG.main.minimum_chunk_size_mb"]);
      const noobaa = settingsOf(storage("RHOCSStorage", { ...rados, is_secure: false, port: undefined, region_name: "local" }));
      expect([noobaa.S3_ENDPOINT, noobaa.S3_REGION]).toEqual(["http://rgw.internal", "local"]);
      expect(refusal(storage("RadosGWStorage", { ...rados, bucket_name: undefined }))).toBe(
        "DISTRIBUTED_STORAGE_CONFIG.main.bucket_name: is required",
      );
    });

    it("AkamaiS3Storage: S3 plus Akamai's domain and shared secret", () => {
      const settings = settingsOf(
        storage("AkamaiS3Storage", { ...s3, s3_region: "us-east-2", akamai_domain: "cdn.example.com", akamai_shared_secret: "0a1b" }),
      );
      expect(loadAkamaiSettings(settings)).toEqual({
        domain: "cdn.example.com",
        sharedSecretHex: "0a1b",
        bypassCidrs: [],
        cdnSpecificNamespaces: [],
      });
      expect(loadS3Settings(settings)?.endpoint).toBe("https://s3.us-east-2.amazonaws.com");
      expect(refusal(storage("AkamaiS3Storage", s3))).toBe("DISTRIBUTED_STORAGE_CONFIG.main.akamai_domain: is required");
    });

    it("serves the first preferred location; QUAY_DISTRIBUTED_STORAGE_PREFERENCE replaces the file's order", () => {
      const two = {
        DISTRIBUTED_STORAGE_CONFIG: { us: ["LocalStorage", { storage_path: "/us" }], eu: ["LocalStorage", { storage_path: "/eu" }] },
        DISTRIBUTED_STORAGE_PREFERENCE: ["us", "eu"],
      };
      const translation = translateQuayConfig(two, origin);
      expect(translation.settings).toEqual({ PIER_STORAGE_DIR: "/us", PIER_STORAGE_LOCATION: "us" });
      expect(translation.notUsed).toEqual(["DISTRIBUTED_STORAGE_CONFIG.eu"]);
      expect(settingsOf(two, { runtime: "origin", storagePreference: ["eu"] })).toEqual({
        PIER_STORAGE_DIR: "/eu",
        PIER_STORAGE_LOCATION: "eu",
      });
      expect(refusal({ ...two, DISTRIBUTED_STORAGE_PREFERENCE: ["ap"] })).toBe(
        'DISTRIBUTED_STORAGE_PREFERENCE: names "ap", which DISTRIBUTED_STORAGE_CONFIG does not define',
      );
      expect(refusal({ DISTRIBUTED_STORAGE_CONFIG: two.DISTRIBUTED_STORAGE_CONFIG })).toMatch(
        /^DISTRIBUTED_STORAGE_PREFERENCE: is required with several/,
      );
    });

    it("refuses drivers and parameters Pier cannot honour, naming the location", () => {
      expect(refusal(storage("CloudFrontedS3Storage", { ...s3, cloudfront_distribution_domain: "d.cloudfront.net" }))).toMatch(
        /^DISTRIBUTED_STORAGE_CONFIG\.main: CloudFrontedS3Storage is not supported: Pier cannot sign CloudFront URLs/,
      );
      expect(refusal(storage("GoogleCloudStorage", {}))).toBe(
        "DISTRIBUTED_STORAGE_CONFIG.main: GoogleCloudStorage is not supported: Pier has no Google Cloud Storage driver",
      );
      expect(refusal(storage("FancyStorage", {}))).toBe('DISTRIBUTED_STORAGE_CONFIG.main: unknown storage driver "FancyStorage"');
      expect(refusal(storage("S3Storage", { ...s3, aws_session_token: "t" }))).toMatch(
        /^DISTRIBUTED_STORAGE_CONFIG\.main\.aws_session_token: /,
      );
      expect(refusal(storage("S3Storage", { ...s3, signature_version: "s3" }))).toBe(
        'DISTRIBUTED_STORAGE_CONFIG.main.signature_version: only s3v4 is supported, got "s3"',
      );
      expect(refusal({ DISTRIBUTED_STORAGE_CONFIG: { main: "LocalStorage" } })).toMatch(
        /^DISTRIBUTED_STORAGE_CONFIG\.main: must be \[DriverName/,
      );
      expect(translateQuayConfig(storage("LocalStorage", { storage_path: "/d", typo_path: "/x" }), origin).unknown).toEqual([
        "DISTRIBUTED_STORAGE_CONFIG.main.typo_path",
      ]);
    });

    it("pier start keeps LocalStorage and its own database and cache, and refuses object storage", () => {
      const translation = translateQuayConfig({ ...BUNDLE, MY_OWN_SETTING: undefined }, { runtime: "embedded" });
      expect(translation.settings.DATABASE_URL).toBeUndefined();
      expect(translation.settings.REDIS_URL).toBeUndefined();
      expect(translation.settings.PIER_STORAGE_DIR).toBe("/datastorage/registry");
      expect(translation.remarks).toEqual([
        "DB_URI and BUILDLOGS_REDIS/USER_EVENTS_REDIS not used: pier start keeps its database and cache itself (pier origin uses them)",
      ]);
      expect(refusal(storage("S3Storage", s3), { runtime: "embedded" })).toBe(
        "DISTRIBUTED_STORAGE_CONFIG.main: pier start stores blobs on a filesystem (LocalStorage) only; run pier origin for S3Storage",
      );
    });
  });

  it("translates geo-replication: every location served, the preference, the default locations", () => {
    const quay = {
      FEATURE_STORAGE_REPLICATION: true,
      DISTRIBUTED_STORAGE_CONFIG: {
        us: ["S3Storage", { s3_bucket: "us", storage_path: "/r", s3_access_key: "a", s3_secret_key: "b", s3_region: "us-east-1", typo: 1 }],
        eu: [
          "RadosGWStorage",
          { hostname: "rgw.eu", is_secure: true, access_key: "c", secret_key: "d", bucket_name: "eu", storage_path: "/r" },
        ],
      },
      DISTRIBUTED_STORAGE_PREFERENCE: ["eu", "us"],
      DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS: ["us", "eu"],
    };
    const translation = translateQuayConfig(quay, origin);
    expect(translation.unknown).toEqual(["DISTRIBUTED_STORAGE_CONFIG.us.typo"]);
    expect(translation.notUsed).toEqual([]);
    const config = loadRegistryConfig(translation.settings);
    expect(config.storageLocation).toBe("eu");
    expect(config.storage).toMatchObject({
      locations: ["eu", "us"],
      preference: ["eu", "us"],
      defaultLocations: ["us", "eu"],
      replication: true,
    });
    expect(loadLocationSettings(translation.settings)!.get("us")).toMatchObject({
      kind: "s3",
      s3: { endpoint: "https://s3.us-east-1.amazonaws.com", bucket: "us", accessKeyId: "a", storagePath: "/r" },
    });
    expect(loadLocationSettings(translation.settings)!.get("eu")).toMatchObject({ kind: "s3", s3: { endpoint: "https://rgw.eu" } });
    // QUAY_DISTRIBUTED_STORAGE_PREFERENCE gives each region's deployment its own order.
    expect(settingsOf(quay, { runtime: "origin", storagePreference: ["us", "eu"] }).PIER_STORAGE_PREFERENCE).toBe("us eu");
    expect(refusal({ ...quay, DISTRIBUTED_STORAGE_PREFERENCE: [] })).toMatch(
      /^DISTRIBUTED_STORAGE_PREFERENCE: is required with FEATURE_STORAGE_REPLICATION/,
    );
    expect(refusal({ ...quay, DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS: ["ap"] })).toBe(
      'DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS: names "ap", which DISTRIBUTED_STORAGE_CONFIG does not define',
    );
    expect(refusal(quay, { runtime: "embedded" })).toBe(
      "DISTRIBUTED_STORAGE_CONFIG.us: pier start stores blobs on a filesystem (LocalStorage) only; run pier origin for S3Storage",
    );
  });

  it("refuses a value Pier's fixed behaviour cannot honour, naming the key and why", () => {
    expect(refusal({ AUTHENTICATION_TYPE: "LDAP" })).toBe(
      'AUTHENTICATION_TYPE: "LDAP" is not supported: Pier checks passwords against Quay\'s database users only',
    );
    expect(refusal({ REGISTRY_STATE: "readonly" })).toBe('REGISTRY_STATE: "readonly" is not supported: Pier has no read-only mode');
    expect(refusal({ FEATURE_STORAGE_REPLICATION: true })).toBe(
      "FEATURE_STORAGE_REPLICATION: needs DISTRIBUTED_STORAGE_CONFIG with the locations to replicate between",
    );
    expect(refusal({ CREATE_PRIVATE_REPO_ON_PUSH: false })).toMatch(/^CREATE_PRIVATE_REPO_ON_PUSH: false is not supported/);
    expect(refusal({ PREFERRED_URL_SCHEME: "ftp" })).toBe('PREFERRED_URL_SCHEME: must be http or https, got "ftp"');
    expect(refusal({ FEATURE_PROXY_CACHE: "yes please" })).toBe('FEATURE_PROXY_CACHE: must be true or false, got "yes please"');
    expect(refusal({ SUPER_USERS: "admin" })).toBe('SUPER_USERS: must be a list, got "admin"');
    expect(refusal({ SUPER_USERS: ["a,b"] })).toBe('SUPER_USERS[0]: must not contain a comma, got "a,b"');
    expect(refusal(["not", "a", "mapping"])).toBe("config.yaml: must be a mapping of keys, got a list");
    // The values Pier always has are accepted.
    expect(settingsOf({ AUTHENTICATION_TYPE: "Database", REGISTRY_STATE: "normal", FEATURE_REFERRERS_API: true })).toEqual({});
  });

  describe("precedence: environment > config.yaml > default", () => {
    it("an explicit, non-empty variable wins over the file; an empty one does not", () => {
      const translation = translateQuayConfig(BUNDLE, origin);
      const settings = overlayEnvironment(translation, {
        PIER_SERVER_HOSTNAME: "pier.example.com",
        DATABASE_URL: "postgres://elsewhere/db",
        PIER_SUPER_USERS: "",
        PIER_PUBLIC_CATALOG: undefined,
      });
      const config = loadRegistryConfig(settings);
      expect(config.serverHostname).toBe("pier.example.com");
      expect(settings.DATABASE_URL).toBe("postgres://elsewhere/db");
      expect(config.superUsers).toEqual(["quayadmin", "ops"]);
      expect(config.publicCatalog).toBe(false);
      expect(config.redirectExpirySeconds).toBe(600);
    });

    it("storage chosen in the environment replaces the file's storage as a whole", () => {
      const file = translateQuayConfig(
        {
          DISTRIBUTED_STORAGE_CONFIG: {
            main: ["S3Storage", { storage_path: "/r", s3_bucket: "b", s3_access_key: "AK", s3_secret_key: "SK" }],
          },
        },
        origin,
      );
      const local = overlayEnvironment(file, { PIER_STORAGE_DIR: "/srv/blobs" });
      expect(loadS3Settings(local)).toBeNull();
      expect([local.PIER_STORAGE_DIR, local.PIER_STORAGE_LOCATION]).toEqual(["/srv/blobs", "main"]);
      const other = overlayEnvironment(file, {
        S3_ENDPOINT: "http://minio:9000",
        S3_BUCKET: "other",
        S3_ACCESS_KEY_ID: "A",
        S3_SECRET_ACCESS_KEY: "S",
      });
      expect(loadS3Settings(other)).toEqual({
        endpoint: "http://minio:9000",
        bucket: "other",
        region: "us-east-1",
        accessKeyId: "A",
        secretAccessKey: "S",
      });
      expect(loadS3Settings(overlayEnvironment(file, { S3_SECRET_ACCESS_KEY: "from-env" }))?.secretAccessKey).toBe("from-env");
    });

    it("S3 credentials must come from the file or the environment", () => {
      const file = translateQuayConfig(
        { DISTRIBUTED_STORAGE_CONFIG: { main: ["S3Storage", { storage_path: "/r", s3_bucket: "b" }] } },
        origin,
      );
      expect(() => overlayEnvironment(file, {})).toThrow(
        new ConfigError(
          "DISTRIBUTED_STORAGE_CONFIG.main.s3_access_key: is required (or set S3_ACCESS_KEY_ID): Pier reads no other AWS credentials",
        ),
      );
      expect(overlayEnvironment(file, { S3_ACCESS_KEY_ID: "A", S3_SECRET_ACCESS_KEY: "S" }).S3_ACCESS_KEY_ID).toBe("A");
    });
  });
});
