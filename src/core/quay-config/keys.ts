/**
 * What Pier does with each Quay config.yaml key it does not translate: keys whose value
 * Pier's behaviour is fixed to (any other value is refused, since Pier would silently act
 * otherwise), and keys of Quay features Pier does not serve (reported, never fatal).
 * Everything else Pier does not know is reported as unknown.
 */

/** A key Pier always behaves as `value` for, and why another value cannot be honoured. */
export interface FixedSetting {
  value: boolean | string;
  why: string;
}

export const FIXED_SETTINGS: Readonly<Record<string, FixedSetting>> = {
  AUTHENTICATION_TYPE: { value: "Database", why: "Pier checks passwords against Quay's database users only" },
  REGISTRY_STATE: { value: "normal", why: "Pier has no read-only mode" },
  DISABLE_PUSHES: { value: false, why: "Pier has no push switch" },
  CREATE_PRIVATE_REPO_ON_PUSH: { value: true, why: "Pier creates pushed repositories private" },
  CREATE_NAMESPACE_ON_PUSH: { value: false, why: "Pier does not create namespaces on push" },
  FEATURE_LIBRARY_SUPPORT: { value: true, why: "Pier always serves single-component names from LIBRARY_NAMESPACE" },
  FEATURE_ADVERTISE_V2: { value: true, why: "Pier always answers /v2/" },
  FEATURE_EXTENDED_REPOSITORY_NAMES: { value: true, why: "Pier always accepts nested repository names" },
  FEATURE_GENERAL_OCI_SUPPORT: { value: true, why: "Pier always accepts OCI artifacts" },
  FEATURE_HELM_OCI_SUPPORT: { value: true, why: "Pier always accepts Helm charts" },
  FEATURE_REFERRERS_API: { value: true, why: "Pier always serves the referrers API" },
  FEATURE_APP_SPECIFIC_TOKENS: { value: true, why: "Pier always accepts app-specific tokens" },
  FEATURE_SPARSE_INDEX: { value: false, why: "Pier has no sparse manifest lists" },
  FEATURE_PROXY_STORAGE: { value: false, why: "Pier redirects blob downloads to storage, it does not proxy them" },
  FEATURE_ORG_MIRROR: { value: false, why: "Pier has no organization mirroring" },
  FEATURE_RESTRICTED_USERS: { value: false, why: "Pier has no restricted users" },
  FEATURE_REQUIRE_ENCRYPTED_BASIC_AUTH: { value: false, why: "Pier does not decrypt Quay's encrypted passwords" },
};

/** Quay keys of features Pier does not serve (UI, builds, mail, scanners, external logins…): reported as not used. */
export const NOT_USED_KEYS: ReadonlySet<string> = new Set([
  "SECRET_KEY",
  "SETUP_COMPLETE",
  "TESTING",
  "DB_CONNECTION_POOLING",
  "DB_READ_REPLICAS",
  "PULL_METRICS_REDIS",
  "DATA_MODEL_CACHE_CONFIG",
  "HEALTH_CHECKER",
  "GLOBAL_READONLY_SUPER_USERS",
  "PUBLIC_NAMESPACES",
  "DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS",
  "FEATURE_USER_CREATION",
  "FEATURE_SUPERUSERS_FULL_ACCESS",
  "FEATURE_CHANGE_TAG_EXPIRATION",
  "FEATURE_IMMUTABLE_TAGS",
  "FEATURE_RATE_LIMITS",
  "FEATURE_IMAGE_PULL_STATS",
  "FEATURE_USER_EVENTS",
  "ALLOW_PULLS_WITHOUT_STRICT_LOGGING",
  "EXTERNAL_TLS_TERMINATION",
  "MAXIMUM_LAYER_SIZE",
  "USE_CDN",
  "USERFILES_LOCATION",
  "USERFILES_PATH",
  "LOG_ARCHIVE_LOCATION",
  "LOG_ARCHIVE_PATH",
  "LOGS_MODEL",
  "LOGS_MODEL_CONFIG",
  "REGISTRY_TITLE",
  "REGISTRY_TITLE_SHORT",
  "ENTERPRISE_LOGO_URL",
  "FRESH_LOGIN_TIMEOUT",
  "SEARCH_MAX_RESULT_PAGE_COUNT",
  "SEARCH_RESULTS_PER_PAGE",
  "TEAM_RESYNC_STALE_TIME",
  "USER_RECOVERY_TOKEN_LIFETIME",
  "REPO_MIRROR_INTERVAL",
  "REPO_MIRROR_TLS_VERIFY",
  "REPO_MIRROR_SERVER_HOSTNAME",
  "GITLAB_TRIGGER_KIND",
  "BROWSER_API_CALLS_XHR_ONLY",
  "CONTACT_INFO",
  "AVATAR_KIND",
  "PREFERRED_URL_SCHEME_OVERRIDE",
  "NON_RATE_LIMITED_NAMESPACES",
  "ACTION_LOG_AUDIT_LOGIN_FAILURES",
  "CORS_ORIGIN",
]);

/**
 * Families of Quay keys Pier does not use: every other FEATURE_ flag (the features Pier
 * has are translated or fixed above), mail, LDAP and other user backends, scanners,
 * builds and external logins.
 */
export const NOT_USED_PATTERNS: readonly RegExp[] = [
  /^FEATURE_/,
  /^(MAIL|LDAP|JWT|KEYSTONE|SECURITY_SCANNER|BUILDMAN|BUILD|SWIFT|SENTRY|GOOGLE|GITHUB|GITLAB|BITBUCKET|RECAPTCHA|ACTION_LOG|LOGS|DEFAULT_NOTIFICATION|NOTIFICATION|ROBOTS|QUOTA|RESET|TEAM|USER|OIDC)_/,
  /_LOGIN_CONFIG$/,
  /_TRIGGER_CONFIG$/,
];
