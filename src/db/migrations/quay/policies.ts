/**
 * Per-namespace and per-repository policies: repository and organization mirroring,
 * proxy cache, quota, auto-prune, tag immutability, pull statistics. Needs the lookup,
 * account and registry tables. Constraint names are Quay's, including the irregular ones
 * (pk_..._id suffixes, fk_quotalimit_type, fk_proxy_cache_config_organization_id).
 */

/** DDL of the policy tables, in dependency order. */
export const POLICY_TABLES: readonly string[] = [
  `CREATE TABLE repomirrorrule (
    id SERIAL NOT NULL,
    uuid VARCHAR(36) NOT NULL,
    repository_id INTEGER NOT NULL,
    creation_date TIMESTAMP NOT NULL,
    rule_type INTEGER NOT NULL,
    rule_value TEXT NOT NULL,
    left_child_id INTEGER,
    right_child_id INTEGER,
    CONSTRAINT pk_repomirrorrule PRIMARY KEY (id),
    CONSTRAINT fk_repomirrorrule_left_child_id_repomirrorrule FOREIGN KEY (left_child_id) REFERENCES repomirrorrule (id),
    CONSTRAINT fk_repomirrorrule_repository_id_repository FOREIGN KEY (repository_id) REFERENCES repository (id),
    CONSTRAINT fk_repomirrorrule_right_child_id_repomirrorrule FOREIGN KEY (right_child_id) REFERENCES repomirrorrule (id)
  )`,
  `CREATE INDEX repomirrorrule_left_child_id ON repomirrorrule (left_child_id)`,
  `CREATE INDEX repomirrorrule_repository_id ON repomirrorrule (repository_id)`,
  `CREATE INDEX repomirrorrule_right_child_id ON repomirrorrule (right_child_id)`,
  `CREATE INDEX repomirrorrule_rule_type ON repomirrorrule (rule_type)`,
  `CREATE UNIQUE INDEX repomirrorrule_uuid ON repomirrorrule (uuid)`,

  // Column order follows Quay's history: external_reference replaced three columns
  // (34c8ef052ec9), the password column was re-added at 9000 chars (a32e17bfad20).
  `CREATE TABLE repomirrorconfig (
    id SERIAL NOT NULL,
    repository_id INTEGER NOT NULL,
    creation_date TIMESTAMP NOT NULL,
    is_enabled BOOLEAN NOT NULL,
    mirror_type INTEGER NOT NULL,
    internal_robot_id INTEGER NOT NULL,
    external_registry_username VARCHAR(4096),
    external_registry_config TEXT NOT NULL,
    sync_interval INTEGER DEFAULT 60 NOT NULL,
    sync_start_date TIMESTAMP,
    sync_expiration_date TIMESTAMP,
    sync_retries_remaining INTEGER DEFAULT 3 NOT NULL,
    sync_status INTEGER NOT NULL,
    sync_transaction_id VARCHAR(36),
    root_rule_id INTEGER NOT NULL,
    external_reference TEXT NOT NULL,
    external_registry_password VARCHAR(9000),
    skopeo_timeout BIGINT DEFAULT 300 NOT NULL,
    architecture_filter TEXT,
    CONSTRAINT pk_repomirrorconfig PRIMARY KEY (id),
    CONSTRAINT fk_repomirrorconfig_internal_robot_id_user FOREIGN KEY (internal_robot_id) REFERENCES "user" (id),
    CONSTRAINT fk_repomirrorconfig_repository_id_repository FOREIGN KEY (repository_id) REFERENCES repository (id),
    CONSTRAINT fk_repomirrorconfig_root_rule_id_repomirrorrule FOREIGN KEY (root_rule_id) REFERENCES repomirrorrule (id)
  )`,
  `CREATE INDEX repomirrorconfig_internal_robot_id ON repomirrorconfig (internal_robot_id)`,
  `CREATE INDEX repomirrorconfig_mirror_type ON repomirrorconfig (mirror_type)`,
  `CREATE UNIQUE INDEX repomirrorconfig_repository_id ON repomirrorconfig (repository_id)`,
  `CREATE INDEX repomirrorconfig_root_rule_id ON repomirrorconfig (root_rule_id)`,
  `CREATE INDEX repomirrorconfig_sync_status ON repomirrorconfig (sync_status)`,
  `CREATE INDEX repomirrorconfig_sync_transaction_id ON repomirrorconfig (sync_transaction_id)`,

  `CREATE TABLE orgmirrorconfig (
    id SERIAL NOT NULL,
    organization_id INTEGER NOT NULL,
    creation_date TIMESTAMP NOT NULL,
    is_enabled BOOLEAN DEFAULT true NOT NULL,
    mirror_type INTEGER DEFAULT 1 NOT NULL,
    external_registry_type INTEGER NOT NULL,
    external_registry_url VARCHAR(2048) NOT NULL,
    external_namespace VARCHAR(255) NOT NULL,
    external_registry_username VARCHAR(4096),
    external_registry_password VARCHAR(9000),
    external_registry_config TEXT NOT NULL,
    internal_robot_id INTEGER NOT NULL,
    repository_filters TEXT NOT NULL,
    visibility_id INTEGER NOT NULL,
    delete_stale_repos BOOLEAN DEFAULT false NOT NULL,
    sync_interval INTEGER NOT NULL,
    sync_start_date TIMESTAMP,
    sync_expiration_date TIMESTAMP,
    sync_retries_remaining INTEGER DEFAULT 3 NOT NULL,
    sync_status INTEGER DEFAULT 0 NOT NULL,
    sync_transaction_id VARCHAR(36),
    skopeo_timeout BIGINT DEFAULT 300 NOT NULL,
    architecture_filter TEXT DEFAULT '[]' NOT NULL,
    CONSTRAINT pk_orgmirrorconfig PRIMARY KEY (id),
    CONSTRAINT fk_orgmirrorconfig_organization_id_user FOREIGN KEY (organization_id) REFERENCES "user" (id),
    CONSTRAINT fk_orgmirrorconfig_internal_robot_id_user FOREIGN KEY (internal_robot_id) REFERENCES "user" (id),
    CONSTRAINT fk_orgmirrorconfig_visibility_id_visibility FOREIGN KEY (visibility_id) REFERENCES visibility (id)
  )`,
  `CREATE UNIQUE INDEX orgmirrorconfig_organization_id ON orgmirrorconfig (organization_id)`,
  `CREATE INDEX orgmirrorconfig_internal_robot_id ON orgmirrorconfig (internal_robot_id)`,
  `CREATE INDEX orgmirrorconfig_sync_status ON orgmirrorconfig (sync_status)`,
  `CREATE INDEX orgmirrorconfig_sync_start_date ON orgmirrorconfig (sync_start_date)`,

  `CREATE TABLE orgmirrorrepository (
    id SERIAL NOT NULL,
    org_mirror_config_id INTEGER NOT NULL,
    repository_name VARCHAR(255) NOT NULL,
    repository_id INTEGER,
    discovery_date TIMESTAMP NOT NULL,
    sync_status INTEGER DEFAULT 0 NOT NULL,
    sync_start_date TIMESTAMP,
    sync_expiration_date TIMESTAMP,
    last_sync_date TIMESTAMP,
    status_message TEXT,
    creation_date TIMESTAMP NOT NULL,
    sync_retries_remaining INTEGER DEFAULT 3 NOT NULL,
    sync_transaction_id VARCHAR(36),
    CONSTRAINT pk_orgmirrorrepository PRIMARY KEY (id),
    CONSTRAINT fk_orgmirrorrepository_org_mirror_config_id_orgmirrorconfig FOREIGN KEY (org_mirror_config_id) REFERENCES orgmirrorconfig (id),
    CONSTRAINT fk_orgmirrorrepository_repository_id_repository FOREIGN KEY (repository_id) REFERENCES repository (id)
  )`,
  `CREATE INDEX orgmirrorrepository_org_mirror_config_id ON orgmirrorrepository (org_mirror_config_id)`,
  `CREATE INDEX orgmirrorrepository_repository_id ON orgmirrorrepository (repository_id)`,
  `CREATE INDEX orgmirrorrepository_sync_status ON orgmirrorrepository (sync_status)`,
  `CREATE UNIQUE INDEX orgmirrorrepository_config_repo_name ON orgmirrorrepository (org_mirror_config_id, repository_name)`,
  `CREATE INDEX orgmirrorrepository_config_status ON orgmirrorrepository (org_mirror_config_id, sync_status)`,

  // No index on organization_id: Quay's API, not the database, keeps one per org.
  `CREATE TABLE proxycacheconfig (
    id SERIAL NOT NULL,
    organization_id INTEGER NOT NULL,
    creation_date TIMESTAMP NOT NULL,
    upstream_registry VARCHAR(2048) NOT NULL,
    upstream_registry_username VARCHAR(4096),
    upstream_registry_password VARCHAR(4096),
    expiration_s INTEGER DEFAULT 86400,
    insecure BOOLEAN DEFAULT false NOT NULL,
    CONSTRAINT pk_proxy_cache_config PRIMARY KEY (id),
    CONSTRAINT fk_proxy_cache_config_organization_id FOREIGN KEY (organization_id) REFERENCES "user" (id)
  )`,

  `CREATE TABLE userorganizationquota (
    id SERIAL NOT NULL,
    namespace_id INTEGER NOT NULL,
    limit_bytes BIGINT NOT NULL,
    CONSTRAINT pk_userorganizationquota PRIMARY KEY (id),
    CONSTRAINT fk_userorganizationquota_organization FOREIGN KEY (namespace_id) REFERENCES "user" (id)
  )`,
  `CREATE UNIQUE INDEX userorganizationquota_organization ON userorganizationquota (namespace_id)`,
  `CREATE TABLE quotalimits (
    id SERIAL NOT NULL,
    quota_id INTEGER NOT NULL,
    quota_type_id INTEGER NOT NULL,
    percent_of_limit INTEGER NOT NULL,
    CONSTRAINT pk_quotalimits PRIMARY KEY (id),
    CONSTRAINT fk_quotalimit_type FOREIGN KEY (quota_type_id) REFERENCES quotatype (id),
    CONSTRAINT fk_quotalimit_id FOREIGN KEY (quota_id) REFERENCES userorganizationquota (id)
  )`,
  `CREATE INDEX quotalimits_quota_id ON quotalimits (quota_id)`,
  `CREATE TABLE quotanamespacesize (
    id SERIAL NOT NULL,
    namespace_user_id INTEGER NOT NULL,
    size_bytes BIGINT DEFAULT 0 NOT NULL,
    backfill_start_ms BIGINT,
    backfill_complete BOOLEAN DEFAULT false NOT NULL,
    CONSTRAINT pk_quotanamespacesizeid PRIMARY KEY (id),
    CONSTRAINT fk_quotanamespacesize_namespace_user_id_user FOREIGN KEY (namespace_user_id) REFERENCES "user" (id)
  )`,
  `CREATE UNIQUE INDEX quotanamespacesize_namespace_user_id ON quotanamespacesize (namespace_user_id)`,
  `CREATE INDEX quotanamespacesize_backfill_start_ms ON quotanamespacesize (backfill_start_ms)`,
  `CREATE INDEX quotanamespacesize_size_bytes ON quotanamespacesize (size_bytes)`,
  `CREATE TABLE quotarepositorysize (
    id SERIAL NOT NULL,
    repository_id INTEGER NOT NULL,
    size_bytes BIGINT DEFAULT 0 NOT NULL,
    backfill_start_ms BIGINT,
    backfill_complete BOOLEAN DEFAULT false NOT NULL,
    CONSTRAINT pk_quotarepositorysizeid PRIMARY KEY (id),
    CONSTRAINT fk_quotarepositorysize_repository_id_repository FOREIGN KEY (repository_id) REFERENCES repository (id)
  )`,
  `CREATE UNIQUE INDEX quotarepositorysize_repository_id ON quotarepositorysize (repository_id)`,
  `CREATE INDEX quotarepositorysize_size_bytes ON quotarepositorysize (size_bytes)`,
  `CREATE TABLE quotaregistrysize (
    id SERIAL NOT NULL,
    size_bytes BIGINT DEFAULT 0 NOT NULL,
    running BOOLEAN DEFAULT false NOT NULL,
    queued BOOLEAN DEFAULT false NOT NULL,
    completed_ms BIGINT,
    CONSTRAINT pk_quotaregistrysizeid PRIMARY KEY (id)
  )`,

  // ba263f9be4a6 made the namespace_id / repository_id indexes non-unique.
  `CREATE TABLE namespaceautoprunepolicy (
    id SERIAL NOT NULL,
    uuid VARCHAR(36) NOT NULL,
    namespace_id INTEGER NOT NULL,
    policy TEXT NOT NULL,
    CONSTRAINT pk_namespaceautoprunepolicyid PRIMARY KEY (id),
    CONSTRAINT fk_namespaceautoprunepolicy_namespace_id_user FOREIGN KEY (namespace_id) REFERENCES "user" (id)
  )`,
  `CREATE INDEX namespaceautoprunepolicy_namespace_id ON namespaceautoprunepolicy (namespace_id)`,
  `CREATE UNIQUE INDEX namespaceautoprunepolicy_uuid ON namespaceautoprunepolicy (uuid)`,
  `CREATE TABLE autoprunetaskstatus (
    id SERIAL NOT NULL,
    namespace_id INTEGER NOT NULL,
    last_ran_ms BIGINT,
    status TEXT,
    CONSTRAINT pk_autoprunetaskstatusid PRIMARY KEY (id),
    CONSTRAINT fk_autoprunetaskstatus_namespace_id_user FOREIGN KEY (namespace_id) REFERENCES "user" (id)
  )`,
  `CREATE UNIQUE INDEX autoprunetaskstatus_namespace_id ON autoprunetaskstatus (namespace_id)`,
  `CREATE INDEX autoprunetaskstatus_last_ran_ms ON autoprunetaskstatus (last_ran_ms)`,
  `CREATE TABLE repositoryautoprunepolicy (
    id SERIAL NOT NULL,
    uuid VARCHAR(36) NOT NULL,
    repository_id INTEGER NOT NULL,
    namespace_id INTEGER NOT NULL,
    policy TEXT NOT NULL,
    CONSTRAINT pk_repositoryautoprunepolicyid PRIMARY KEY (id),
    CONSTRAINT fk_repositoryautoprunepolicy_repository_id_repository FOREIGN KEY (repository_id) REFERENCES repository (id),
    CONSTRAINT fk_repositoryautoprunepolicy_namespace_id_user FOREIGN KEY (namespace_id) REFERENCES "user" (id)
  )`,
  `CREATE UNIQUE INDEX repositoryautoprunepolicy_uuid ON repositoryautoprunepolicy (uuid)`,
  `CREATE INDEX repositoryautoprunepolicy_repository_id ON repositoryautoprunepolicy (repository_id)`,
  `CREATE INDEX repositoryautoprunepolicy_namespace_id ON repositoryautoprunepolicy (namespace_id)`,

  `CREATE TABLE namespaceimmutabilitypolicy (
    id SERIAL NOT NULL,
    uuid VARCHAR(36) NOT NULL,
    namespace_id INTEGER NOT NULL,
    policy TEXT NOT NULL,
    CONSTRAINT pk_namespaceimmutabilitypolicyid PRIMARY KEY (id),
    CONSTRAINT fk_namespaceimmutabilitypolicy_namespace_id_user FOREIGN KEY (namespace_id) REFERENCES "user" (id)
  )`,
  `CREATE INDEX namespaceimmutabilitypolicy_namespace_id ON namespaceimmutabilitypolicy (namespace_id)`,
  `CREATE UNIQUE INDEX namespaceimmutabilitypolicy_uuid ON namespaceimmutabilitypolicy (uuid)`,
  `CREATE TABLE repositoryimmutabilitypolicy (
    id SERIAL NOT NULL,
    uuid VARCHAR(36) NOT NULL,
    repository_id INTEGER NOT NULL,
    namespace_id INTEGER NOT NULL,
    policy TEXT NOT NULL,
    CONSTRAINT pk_repositoryimmutabilitypolicyid PRIMARY KEY (id),
    CONSTRAINT fk_repositoryimmutabilitypolicy_repository_id_repository FOREIGN KEY (repository_id) REFERENCES repository (id),
    CONSTRAINT fk_repositoryimmutabilitypolicy_namespace_id_user FOREIGN KEY (namespace_id) REFERENCES "user" (id)
  )`,
  `CREATE INDEX repositoryimmutabilitypolicy_repository_id ON repositoryimmutabilitypolicy (repository_id)`,
  `CREATE INDEX repositoryimmutabilitypolicy_namespace_id ON repositoryimmutabilitypolicy (namespace_id)`,
  `CREATE UNIQUE INDEX repositoryimmutabilitypolicy_uuid ON repositoryimmutabilitypolicy (uuid)`,

  `CREATE TABLE tagpullstatistics (
    id SERIAL NOT NULL,
    repository_id INTEGER NOT NULL,
    tag_name VARCHAR(255) NOT NULL,
    tag_pull_count BIGINT NOT NULL,
    last_tag_pull_date TIMESTAMP NOT NULL,
    current_manifest_digest VARCHAR(255),
    CONSTRAINT pk_tagpullstatistics PRIMARY KEY (id),
    CONSTRAINT fk_tagpullstatistics_repository_id_repository FOREIGN KEY (repository_id) REFERENCES repository (id)
  )`,
  `CREATE UNIQUE INDEX tagpullstatistics_repository_id_tag_name ON tagpullstatistics (repository_id, tag_name)`,
  `CREATE TABLE manifestpullstatistics (
    id SERIAL NOT NULL,
    repository_id INTEGER NOT NULL,
    manifest_digest VARCHAR(255) NOT NULL,
    manifest_pull_count BIGINT NOT NULL,
    last_manifest_pull_date TIMESTAMP NOT NULL,
    CONSTRAINT pk_manifestpullstatistics PRIMARY KEY (id),
    CONSTRAINT fk_manifestpullstatistics_repository_id_repository FOREIGN KEY (repository_id) REFERENCES repository (id)
  )`,
  `CREATE UNIQUE INDEX manifestpullstatistics_repository_id_manifest_digest ON manifestpullstatistics (repository_id, manifest_digest)`,
];
