import { describe, expect, it } from "vitest";
import { ConfigError, loadDependencyTimeouts, loadRegistryConfig, loadS3Settings, loadTlsSettings } from "./config.js";

describe("configuration", () => {
  it("has Quay's defaults", () => {
    expect(loadRegistryConfig({})).toEqual({
      serverHostname: null,
      urlScheme: null,
      anonymousAccess: true,
      libraryNamespace: "library",
      superUsers: [],
      ssrfAllowedHosts: [],
      defaultTagExpirationSeconds: 1_209_600,
      redirectExpirySeconds: 600,
      storageLocation: "default",
      storage: {
        locations: ["default"],
        preference: ["default"],
        defaultLocations: [],
        regionMap: { country: {}, continent: {} },
        replication: false,
      },
      publicCatalog: false,
      isolateCacheMs: 5_000,
      sharedCacheMaxAgeMs: 30_000,
      databaseSecretKey: null,
      originUrl: null,
      quota: { enabled: false, systemRejectBytes: 0 },
      front: { legacyUrl: null, seed: { killSwitch: false, rules: [] }, refreshMs: 2_000, timeoutMs: 10_000, mutableTtlMs: 5_000 },
      logRequests: false,
      auditPulls: true,
      metricsToken: null,
      trustedProxies: [],
      proxyCache: false,
      garbageCollection: true,
      autoPrune: false,
      repoMirror: false,
      robotTokens: "quay",
      defaultNamespaceAutoPrunePolicy: null,
    });
  });

  it("reads values and lists", () => {
    const config = loadRegistryConfig({
      PIER_SERVER_HOSTNAME: "r.example",
      PIER_URL_SCHEME: "https",
      PIER_ANONYMOUS_ACCESS: "false",
      PIER_SUPER_USERS: "a, b,,",
    });
    expect(config.serverHostname).toBe("r.example");
    expect(config.urlScheme).toBe("https");
    expect(config.anonymousAccess).toBe(false);
    expect(config.superUsers).toEqual(["a", "b"]);
  });

  it("names the variable in every error", () => {
    expect(() => loadRegistryConfig({ PIER_ANONYMOUS_ACCESS: "maybe" })).toThrow(
      new ConfigError('PIER_ANONYMOUS_ACCESS must be true or false, got "maybe"'),
    );
    expect(() => loadRegistryConfig({ PIER_URL_SCHEME: "ftp" })).toThrow(/PIER_URL_SCHEME/);
    expect(() => loadRegistryConfig({ PIER_REDIRECT_EXPIRY_S: "0" })).toThrow(/PIER_REDIRECT_EXPIRY_S/);
    expect(() => loadRegistryConfig({ PIER_TRUSTED_PROXIES: "10.0.0.0/8, proxy.local" })).toThrow(
      new ConfigError('PIER_TRUSTED_PROXIES must list IP addresses or CIDRs, got "proxy.local"'),
    );
    expect(() => loadS3Settings({ S3_ENDPOINT: "http://s3" })).toThrow(new ConfigError("S3_BUCKET is required"));
    expect(() => loadRegistryConfig({ PIER_ROBOT_TOKENS: "hashed" })).toThrow(
      new ConfigError('PIER_ROBOT_TOKENS must be one of quay, prefixed, got "hashed"'),
    );
    expect(loadRegistryConfig({ PIER_ROBOT_TOKENS: "Prefixed" }).robotTokens).toBe("prefixed");
  });

  it("reads Quay's DEFAULT_NAMESPACE_AUTOPRUNE_POLICY as PIER_DEFAULT_NAMESPACE_AUTOPRUNE_POLICY", () => {
    const name = "PIER_DEFAULT_NAMESPACE_AUTOPRUNE_POLICY";
    expect(loadRegistryConfig({ [name]: '{"method": "number_of_tags", "value": 10}' }).defaultNamespaceAutoPrunePolicy).toEqual({
      method: "number_of_tags",
      value: 10,
      tag_pattern: null,
      tag_pattern_matches: true,
    });
    const byDate = '{"method": "creation_date", "value": "2w", "tag_pattern": "^dev-", "tag_pattern_matches": false}';
    expect(loadRegistryConfig({ [name]: byDate }).defaultNamespaceAutoPrunePolicy).toEqual({
      method: "creation_date",
      value: "2w",
      tag_pattern: "^dev-",
      tag_pattern_matches: false,
    });
    expect(() => loadRegistryConfig({ [name]: "number_of_tags" })).toThrow(
      new ConfigError(`${name} must be a JSON object, got "number_of_tags"`),
    );
    expect(() => loadRegistryConfig({ [name]: "[1]" })).toThrow(new ConfigError(`${name} must be a JSON object, got "[1]"`));
    expect(() => loadRegistryConfig({ [name]: '{"method": "newest", "value": 1}' })).toThrow(
      new ConfigError(`${name}: Invalid method provided`),
    );
    expect(() => loadRegistryConfig({ [name]: '{"method": "creation_date", "value": "2 weeks"}' })).toThrow(
      new ConfigError(`${name}: Invalid value given for method type`),
    );
    expect(() => loadRegistryConfig({ [name]: '{"method": "number_of_tags", "value": 0}' })).toThrow(
      new ConfigError(`${name}: Invalid value given for method type`),
    );
    expect(() => loadRegistryConfig({ [name]: '{"method": "number_of_tags", "value": 3, "tag_pattern": ""}' })).toThrow(
      new ConfigError(`${name}: tag_pattern cannot be empty`),
    );
  });

  it("bounds every dependency call, with defaults and overrides", () => {
    expect(loadDependencyTimeouts({})).toEqual({ sqlMs: 5_000, sqlPoolWaitMs: 5_000, cacheMs: 500, storageMs: 10_000, upstreamMs: 10_000 });
    expect(loadDependencyTimeouts({ PIER_SQL_TIMEOUT_MS: "2000", PIER_CACHE_TIMEOUT_MS: "250" })).toMatchObject({
      sqlMs: 2_000,
      cacheMs: 250,
    });
    expect(() => loadDependencyTimeouts({ PIER_STORAGE_TIMEOUT_MS: "0" })).toThrow(/PIER_STORAGE_TIMEOUT_MS/);
  });

  it("selects S3 only when an endpoint is configured", () => {
    expect(loadS3Settings({})).toBeNull();
    expect(
      loadS3Settings({
        S3_ENDPOINT: "http://s3",
        S3_BUCKET: "b",
        S3_ACCESS_KEY_ID: "k",
        S3_SECRET_ACCESS_KEY: "s",
        S3_STORAGE_PATH: "/registry",
      }),
    ).toEqual({
      endpoint: "http://s3",
      bucket: "b",
      region: "us-east-1",
      accessKeyId: "k",
      secretAccessKey: "s",
      storagePath: "/registry",
    });
  });

  it("reads the TLS settings: off without a certificate, 1.2 by default, and refuses half or unknown settings", () => {
    expect(loadTlsSettings({})).toBeNull();
    expect(loadTlsSettings({ PIER_TLS_CERT_FILE: "c.pem", PIER_TLS_KEY_FILE: "k.pem" })).toEqual({
      certFile: "c.pem",
      keyFile: "k.pem",
      minVersion: "TLSv1.2",
      clientCaFile: null,
      ecdhCurve: null,
    });
    expect(
      loadTlsSettings({
        PIER_TLS_CERT_FILE: "c.pem",
        PIER_TLS_KEY_FILE: "k.pem",
        PIER_TLS_MIN_VERSION: "1.3",
        PIER_TLS_CLIENT_CA_FILE: "ca.pem",
        PIER_TLS_ECDH_CURVES: "X25519:P-256",
      }),
    ).toEqual({ certFile: "c.pem", keyFile: "k.pem", minVersion: "TLSv1.3", clientCaFile: "ca.pem", ecdhCurve: "X25519:P-256" });
    expect(() => loadTlsSettings({ PIER_TLS_CLIENT_CA_FILE: "ca.pem" })).toThrow(
      new ConfigError("PIER_TLS_CLIENT_CA_FILE needs PIER_TLS_CERT_FILE and PIER_TLS_KEY_FILE"),
    );
    expect(() => loadTlsSettings({ PIER_TLS_CERT_FILE: "c.pem" })).toThrow(/must be set together/);
    expect(() => loadTlsSettings({ PIER_TLS_CERT_FILE: "c.pem", PIER_TLS_KEY_FILE: "k.pem", PIER_TLS_MIN_VERSION: "1.0" })).toThrow(
      'PIER_TLS_MIN_VERSION must be 1.2 or 1.3, got "1.0"',
    );
  });
  it("reads the strangler front's settings and refuses ones it cannot apply, naming the setting", () => {
    const front = loadRegistryConfig({
      PIER_LEGACY_URL: "https://quay.example.com/",
      PIER_FRONT_RULES: '{"rules": [{"id": "reads", "families": ["v2-read"], "target": "pier"}]}',
    }).front;
    expect(front.legacyUrl).toBe("https://quay.example.com");
    expect(front.seed.rules).toEqual([expect.objectContaining({ id: "reads", target: "pier" })]);
    expect(() => loadRegistryConfig({ PIER_FRONT_RULES: "{nope" })).toThrow("PIER_FRONT_RULES: not JSON");
    expect(() => loadRegistryConfig({ PIER_FRONT_RULES: '{"rules": [{"id": "x", "families": ["*"], "target": "ql"}]}' })).toThrow(
      'PIER_FRONT_RULES: rules[0].target must be "pier" or "legacy"',
    );
    expect(() => loadRegistryConfig({ PIER_LEGACY_URL: "quay.example.com/v2" })).toThrow(
      "PIER_LEGACY_URL must be an http(s) URL with no path",
    );
  });
});
