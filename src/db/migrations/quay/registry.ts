/**
 * The registry path: repositories and their permissions, blob storage (imagestorage and
 * placements), uploads, manifests, tags and labels, plus the per-repository bookkeeping
 * rows Quay writes alongside them. Needs the lookup and account tables.
 */

/** DDL of the registry tables, in dependency order. */
export const REGISTRY_TABLES: readonly string[] = [
  `CREATE TABLE repository (
    id SERIAL NOT NULL,
    namespace_user_id INTEGER,
    name VARCHAR(255) NOT NULL,
    visibility_id INTEGER NOT NULL,
    description TEXT,
    badge_token VARCHAR(255) NOT NULL,
    kind_id INTEGER DEFAULT 1 NOT NULL,
    trust_enabled BOOLEAN DEFAULT false NOT NULL,
    state INTEGER DEFAULT 0 NOT NULL,
    CONSTRAINT pk_repository PRIMARY KEY (id),
    CONSTRAINT fk_repository_namespace_user_id_user FOREIGN KEY (namespace_user_id) REFERENCES "user" (id),
    CONSTRAINT fk_repository_visibility_id_visibility FOREIGN KEY (visibility_id) REFERENCES visibility (id),
    CONSTRAINT fk_repository_kind_id_repositorykind FOREIGN KEY (kind_id) REFERENCES repositorykind (id)
  )`,
  `CREATE INDEX repository_namespace_user_id ON repository (namespace_user_id)`,
  `CREATE UNIQUE INDEX repository_namespace_user_id_name ON repository (namespace_user_id, name)`,
  `CREATE INDEX repository_visibility_id ON repository (visibility_id)`,
  `CREATE INDEX repository_kind_id ON repository (kind_id)`,
  `CREATE INDEX repository_state ON repository (state)`,

  `CREATE TABLE repositorypermission (
    id SERIAL NOT NULL,
    team_id INTEGER,
    user_id INTEGER,
    repository_id INTEGER NOT NULL,
    role_id INTEGER NOT NULL,
    CONSTRAINT pk_repositorypermission PRIMARY KEY (id),
    CONSTRAINT fk_repositorypermission_repository_id_repository FOREIGN KEY (repository_id) REFERENCES repository (id),
    CONSTRAINT fk_repositorypermission_role_id_role FOREIGN KEY (role_id) REFERENCES role (id),
    CONSTRAINT fk_repositorypermission_team_id_team FOREIGN KEY (team_id) REFERENCES team (id),
    CONSTRAINT fk_repositorypermission_user_id_user FOREIGN KEY (user_id) REFERENCES "user" (id)
  )`,
  `CREATE INDEX repositorypermission_repository_id ON repositorypermission (repository_id)`,
  `CREATE INDEX repositorypermission_role_id ON repositorypermission (role_id)`,
  `CREATE INDEX repositorypermission_team_id ON repositorypermission (team_id)`,
  `CREATE UNIQUE INDEX repositorypermission_team_id_repository_id ON repositorypermission (team_id, repository_id)`,
  `CREATE INDEX repositorypermission_user_id ON repositorypermission (user_id)`,
  `CREATE UNIQUE INDEX repositorypermission_user_id_repository_id ON repositorypermission (user_id, repository_id)`,

  `CREATE TABLE star (
    id SERIAL NOT NULL,
    user_id INTEGER NOT NULL,
    repository_id INTEGER NOT NULL,
    created TIMESTAMP NOT NULL,
    CONSTRAINT pk_star PRIMARY KEY (id),
    CONSTRAINT fk_star_repository_id_repository FOREIGN KEY (repository_id) REFERENCES repository (id),
    CONSTRAINT fk_star_user_id_user FOREIGN KEY (user_id) REFERENCES "user" (id)
  )`,
  `CREATE INDEX star_repository_id ON star (repository_id)`,
  `CREATE INDEX star_user_id ON star (user_id)`,
  `CREATE UNIQUE INDEX star_user_id_repository_id ON star (user_id, repository_id)`,

  `CREATE TABLE accesstoken (
    id SERIAL NOT NULL,
    friendly_name VARCHAR(255),
    repository_id INTEGER NOT NULL,
    created TIMESTAMP NOT NULL,
    role_id INTEGER NOT NULL,
    "temporary" BOOLEAN NOT NULL,
    kind_id INTEGER,
    token_code VARCHAR(255) NOT NULL,
    token_name VARCHAR(255) NOT NULL,
    CONSTRAINT pk_accesstoken PRIMARY KEY (id),
    CONSTRAINT fk_accesstoken_kind_id_accesstokenkind FOREIGN KEY (kind_id) REFERENCES accesstokenkind (id),
    CONSTRAINT fk_accesstoken_repository_id_repository FOREIGN KEY (repository_id) REFERENCES repository (id),
    CONSTRAINT fk_accesstoken_role_id_role FOREIGN KEY (role_id) REFERENCES role (id)
  )`,
  `CREATE INDEX accesstoken_kind_id ON accesstoken (kind_id)`,
  `CREATE INDEX accesstoken_repository_id ON accesstoken (repository_id)`,
  `CREATE INDEX accesstoken_role_id ON accesstoken (role_id)`,
  `CREATE UNIQUE INDEX accesstoken_token_name ON accesstoken (token_name)`,

  // cas_path's server default is false (base migration); Quay's model writes true.
  `CREATE TABLE imagestorage (
    id SERIAL NOT NULL,
    uuid VARCHAR(255) NOT NULL,
    image_size BIGINT,
    uncompressed_size BIGINT,
    uploading BOOLEAN,
    cas_path BOOLEAN DEFAULT false NOT NULL,
    content_checksum VARCHAR(255),
    CONSTRAINT pk_imagestorage PRIMARY KEY (id)
  )`,
  `CREATE INDEX imagestorage_content_checksum ON imagestorage (content_checksum)`,
  `CREATE UNIQUE INDEX imagestorage_uuid ON imagestorage (uuid)`,

  `CREATE TABLE imagestorageplacement (
    id SERIAL NOT NULL,
    storage_id INTEGER NOT NULL,
    location_id INTEGER NOT NULL,
    CONSTRAINT pk_imagestorageplacement PRIMARY KEY (id),
    CONSTRAINT fk_imagestorageplacement_location_id_imagestoragelocation FOREIGN KEY (location_id) REFERENCES imagestoragelocation (id),
    CONSTRAINT fk_imagestorageplacement_storage_id_imagestorage FOREIGN KEY (storage_id) REFERENCES imagestorage (id)
  )`,
  `CREATE INDEX imagestorageplacement_location_id ON imagestorageplacement (location_id)`,
  `CREATE INDEX imagestorageplacement_storage_id ON imagestorageplacement (storage_id)`,
  `CREATE UNIQUE INDEX imagestorageplacement_storage_id_location_id ON imagestorageplacement (storage_id, location_id)`,

  `CREATE TABLE imagestoragesignature (
    id SERIAL NOT NULL,
    storage_id INTEGER NOT NULL,
    kind_id INTEGER NOT NULL,
    signature TEXT,
    uploading BOOLEAN,
    CONSTRAINT pk_imagestoragesignature PRIMARY KEY (id),
    CONSTRAINT fk_imagestoragesignature_kind_id_imagestoragesignaturekind FOREIGN KEY (kind_id) REFERENCES imagestoragesignaturekind (id),
    CONSTRAINT fk_imagestoragesignature_storage_id_imagestorage FOREIGN KEY (storage_id) REFERENCES imagestorage (id)
  )`,
  `CREATE INDEX imagestoragesignature_kind_id ON imagestoragesignature (kind_id)`,
  `CREATE UNIQUE INDEX imagestoragesignature_kind_id_storage_id ON imagestoragesignature (kind_id, storage_id)`,
  `CREATE INDEX imagestoragesignature_storage_id ON imagestoragesignature (storage_id)`,

  // created's default is a timestamp literal stamped at migration time (see index.ts).
  `CREATE TABLE blobupload (
    id SERIAL NOT NULL,
    repository_id INTEGER NOT NULL,
    uuid VARCHAR(255) NOT NULL,
    byte_count BIGINT NOT NULL,
    sha_state TEXT,
    location_id INTEGER NOT NULL,
    storage_metadata TEXT,
    chunk_count INTEGER DEFAULT 0 NOT NULL,
    uncompressed_byte_count BIGINT,
    created TIMESTAMP NOT NULL,
    piece_sha_state TEXT,
    piece_hashes TEXT,
    CONSTRAINT pk_blobupload PRIMARY KEY (id),
    CONSTRAINT fk_blobupload_location_id_imagestoragelocation FOREIGN KEY (location_id) REFERENCES imagestoragelocation (id),
    CONSTRAINT fk_blobupload_repository_id_repository FOREIGN KEY (repository_id) REFERENCES repository (id)
  )`,
  `CREATE INDEX blobupload_created ON blobupload (created)`,
  `CREATE INDEX blobupload_location_id ON blobupload (location_id)`,
  `CREATE INDEX blobupload_repository_id ON blobupload (repository_id)`,
  `CREATE UNIQUE INDEX blobupload_repository_id_uuid ON blobupload (repository_id, uuid)`,
  `CREATE UNIQUE INDEX blobupload_uuid ON blobupload (uuid)`,

  `CREATE TABLE uploadedblob (
    id BIGSERIAL NOT NULL,
    repository_id INTEGER NOT NULL,
    blob_id INTEGER NOT NULL,
    uploaded_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    CONSTRAINT pk_uploadedblob PRIMARY KEY (id),
    CONSTRAINT fk_uploadedblob_blob_id_imagestorage FOREIGN KEY (blob_id) REFERENCES imagestorage (id),
    CONSTRAINT fk_uploadedblob_repository_id_repository FOREIGN KEY (repository_id) REFERENCES repository (id)
  )`,
  `CREATE INDEX uploadedblob_blob_id ON uploadedblob (blob_id)`,
  `CREATE INDEX uploadedblob_expires_at ON uploadedblob (expires_at)`,
  `CREATE INDEX uploadedblob_repository_id ON uploadedblob (repository_id)`,

  `CREATE TABLE label (
    id SERIAL NOT NULL,
    uuid VARCHAR(255) NOT NULL,
    key VARCHAR(255) NOT NULL,
    value TEXT NOT NULL,
    media_type_id INTEGER NOT NULL,
    source_type_id INTEGER NOT NULL,
    CONSTRAINT pk_label PRIMARY KEY (id),
    CONSTRAINT fk_label_media_type_id_mediatype FOREIGN KEY (media_type_id) REFERENCES mediatype (id),
    CONSTRAINT fk_label_source_type_id_labelsourcetype FOREIGN KEY (source_type_id) REFERENCES labelsourcetype (id)
  )`,
  `CREATE INDEX label_key ON label (key)`,
  `CREATE INDEX label_media_type_id ON label (media_type_id)`,
  `CREATE INDEX label_source_type_id ON label (source_type_id)`,
  `CREATE UNIQUE INDEX label_uuid ON label (uuid)`,

  `CREATE TABLE manifest (
    id SERIAL NOT NULL,
    repository_id INTEGER NOT NULL,
    digest VARCHAR(255) NOT NULL,
    media_type_id INTEGER NOT NULL,
    manifest_bytes TEXT NOT NULL,
    config_media_type VARCHAR(255),
    layers_compressed_size BIGINT,
    subject VARCHAR(255),
    subject_backfilled BOOLEAN,
    artifact_type VARCHAR(255),
    artifact_type_backfilled BOOLEAN,
    CONSTRAINT pk_manifest PRIMARY KEY (id),
    CONSTRAINT fk_manifest_media_type_id_mediatype FOREIGN KEY (media_type_id) REFERENCES mediatype (id),
    CONSTRAINT fk_manifest_repository_id_repository FOREIGN KEY (repository_id) REFERENCES repository (id)
  )`,
  `CREATE INDEX manifest_digest ON manifest (digest)`,
  `CREATE INDEX manifest_media_type_id ON manifest (media_type_id)`,
  `CREATE INDEX manifest_repository_id ON manifest (repository_id)`,
  `CREATE UNIQUE INDEX manifest_repository_id_digest ON manifest (repository_id, digest)`,
  `CREATE INDEX manifest_repository_id_media_type_id ON manifest (repository_id, media_type_id)`,
  `CREATE INDEX manifest_repository_id_config_media_type ON manifest (repository_id, config_media_type)`,
  `CREATE INDEX manifest_repository_id_subject ON manifest (repository_id, subject)`,
  `CREATE INDEX manifest_subject_backfilled ON manifest (subject_backfilled)`,
  `CREATE INDEX manifest_repository_id_artifact_type ON manifest (repository_id, artifact_type)`,
  `CREATE INDEX manifest_artifact_type_backfilled ON manifest (artifact_type_backfilled)`,

  `CREATE TABLE manifestlabel (
    id SERIAL NOT NULL,
    repository_id INTEGER NOT NULL,
    manifest_id INTEGER NOT NULL,
    label_id INTEGER NOT NULL,
    CONSTRAINT pk_manifestlabel PRIMARY KEY (id),
    CONSTRAINT fk_manifestlabel_label_id_label FOREIGN KEY (label_id) REFERENCES label (id),
    CONSTRAINT fk_manifestlabel_manifest_id_manifest FOREIGN KEY (manifest_id) REFERENCES manifest (id),
    CONSTRAINT fk_manifestlabel_repository_id_repository FOREIGN KEY (repository_id) REFERENCES repository (id)
  )`,
  `CREATE INDEX manifestlabel_label_id ON manifestlabel (label_id)`,
  `CREATE INDEX manifestlabel_manifest_id ON manifestlabel (manifest_id)`,
  `CREATE UNIQUE INDEX manifestlabel_manifest_id_label_id ON manifestlabel (manifest_id, label_id)`,
  `CREATE INDEX manifestlabel_repository_id ON manifestlabel (repository_id)`,

  // e8ed3fb547da widened the id and its sequence to BIGINT.
  `CREATE TABLE manifestblob (
    id BIGSERIAL NOT NULL,
    repository_id INTEGER NOT NULL,
    manifest_id INTEGER NOT NULL,
    blob_id INTEGER NOT NULL,
    CONSTRAINT pk_manifestblob PRIMARY KEY (id),
    CONSTRAINT fk_manifestblob_blob_id_imagestorage FOREIGN KEY (blob_id) REFERENCES imagestorage (id),
    CONSTRAINT fk_manifestblob_manifest_id_manifest FOREIGN KEY (manifest_id) REFERENCES manifest (id),
    CONSTRAINT fk_manifestblob_repository_id_repository FOREIGN KEY (repository_id) REFERENCES repository (id)
  )`,
  `CREATE INDEX manifestblob_blob_id ON manifestblob (blob_id)`,
  `CREATE INDEX manifestblob_manifest_id ON manifestblob (manifest_id)`,
  `CREATE UNIQUE INDEX manifestblob_manifest_id_blob_id ON manifestblob (manifest_id, blob_id)`,
  `CREATE INDEX manifestblob_repository_id ON manifestblob (repository_id)`,
  `CREATE INDEX manifestblob_repository_id_blob_id ON manifestblob (repository_id, blob_id)`,

  `CREATE TABLE manifestchild (
    id SERIAL NOT NULL,
    repository_id INTEGER NOT NULL,
    manifest_id INTEGER NOT NULL,
    child_manifest_id INTEGER NOT NULL,
    CONSTRAINT pk_manifestchild PRIMARY KEY (id),
    CONSTRAINT fk_manifestchild_child_manifest_id_manifest FOREIGN KEY (child_manifest_id) REFERENCES manifest (id),
    CONSTRAINT fk_manifestchild_manifest_id_manifest FOREIGN KEY (manifest_id) REFERENCES manifest (id),
    CONSTRAINT fk_manifestchild_repository_id_repository FOREIGN KEY (repository_id) REFERENCES repository (id)
  )`,
  `CREATE INDEX manifestchild_child_manifest_id ON manifestchild (child_manifest_id)`,
  `CREATE INDEX manifestchild_manifest_id ON manifestchild (manifest_id)`,
  `CREATE UNIQUE INDEX manifestchild_manifest_id_child_manifest_id ON manifestchild (manifest_id, child_manifest_id)`,
  `CREATE INDEX manifestchild_repository_id ON manifestchild (repository_id)`,
  `CREATE INDEX manifestchild_repository_id_child_manifest_id ON manifestchild (repository_id, child_manifest_id)`,
  `CREATE INDEX manifestchild_repository_id_manifest_id ON manifestchild (repository_id, manifest_id)`,
  `CREATE INDEX manifestchild_repository_id_manifest_id_child_manifest_id ON manifestchild (repository_id, manifest_id, child_manifest_id)`,

  `CREATE TABLE tag (
    id SERIAL NOT NULL,
    name VARCHAR(255) NOT NULL,
    repository_id INTEGER NOT NULL,
    manifest_id INTEGER,
    lifetime_start_ms BIGINT NOT NULL,
    lifetime_end_ms BIGINT,
    hidden BOOLEAN DEFAULT false NOT NULL,
    reversion BOOLEAN DEFAULT false NOT NULL,
    tag_kind_id INTEGER NOT NULL,
    linked_tag_id INTEGER,
    immutable BOOLEAN DEFAULT false NOT NULL,
    CONSTRAINT pk_tag PRIMARY KEY (id),
    CONSTRAINT fk_tag_linked_tag_id_tag FOREIGN KEY (linked_tag_id) REFERENCES tag (id),
    CONSTRAINT fk_tag_manifest_id_manifest FOREIGN KEY (manifest_id) REFERENCES manifest (id),
    CONSTRAINT fk_tag_repository_id_repository FOREIGN KEY (repository_id) REFERENCES repository (id),
    CONSTRAINT fk_tag_tag_kind_id_tagkind FOREIGN KEY (tag_kind_id) REFERENCES tagkind (id)
  )`,
  `CREATE INDEX tag_lifetime_end_ms ON tag (lifetime_end_ms)`,
  `CREATE INDEX tag_linked_tag_id ON tag (linked_tag_id)`,
  `CREATE INDEX tag_manifest_id ON tag (manifest_id)`,
  `CREATE INDEX tag_repository_id ON tag (repository_id)`,
  `CREATE INDEX tag_repository_id_name ON tag (repository_id, name)`,
  `CREATE INDEX tag_repository_id_name_hidden ON tag (repository_id, name, hidden)`,
  `CREATE UNIQUE INDEX tag_repository_id_name_lifetime_end_ms ON tag (repository_id, name, lifetime_end_ms)`,
  `CREATE INDEX tag_repository_id_name_tag_kind_id ON tag (repository_id, name, tag_kind_id)`,
  `CREATE INDEX tag_tag_kind_id ON tag (tag_kind_id)`,
  `CREATE INDEX tag_repository_id_lifetime_end_ms ON tag (repository_id, lifetime_end_ms)`,
  `CREATE INDEX tag_repository_id_lifetime_start_ms ON tag (repository_id, lifetime_start_ms)`,
  `CREATE INDEX tag_repository_id_immutable ON tag (repository_id, immutable)`,
  `CREATE INDEX tag_manifest_id_immutable ON tag (manifest_id, immutable)`,
  `CREATE INDEX tag_manifest_id_lifetime_end_ms ON tag (manifest_id, lifetime_end_ms)`,

  `CREATE TABLE repositoryactioncount (
    id SERIAL NOT NULL,
    repository_id INTEGER NOT NULL,
    count INTEGER NOT NULL,
    date DATE NOT NULL,
    CONSTRAINT pk_repositoryactioncount PRIMARY KEY (id),
    CONSTRAINT fk_repositoryactioncount_repository_id_repository FOREIGN KEY (repository_id) REFERENCES repository (id)
  )`,
  `CREATE INDEX repositoryactioncount_date ON repositoryactioncount (date)`,
  `CREATE INDEX repositoryactioncount_repository_id ON repositoryactioncount (repository_id)`,
  `CREATE UNIQUE INDEX repositoryactioncount_repository_id_date ON repositoryactioncount (repository_id, date)`,

  `CREATE TABLE repositorysearchscore (
    id SERIAL NOT NULL,
    repository_id INTEGER NOT NULL,
    score BIGINT NOT NULL,
    last_updated TIMESTAMP,
    CONSTRAINT pk_repositorysearchscore PRIMARY KEY (id),
    CONSTRAINT fk_repositorysearchscore_repository_id_repository FOREIGN KEY (repository_id) REFERENCES repository (id)
  )`,
  `CREATE UNIQUE INDEX repositorysearchscore_repository_id ON repositorysearchscore (repository_id)`,
  `CREATE INDEX repositorysearchscore_score ON repositorysearchscore (score)`,

  `CREATE TABLE repositoryauthorizedemail (
    id SERIAL NOT NULL,
    repository_id INTEGER NOT NULL,
    email VARCHAR(255) NOT NULL,
    code VARCHAR(255) NOT NULL,
    confirmed BOOLEAN NOT NULL,
    CONSTRAINT pk_repositoryauthorizedemail PRIMARY KEY (id),
    CONSTRAINT fk_repositoryauthorizedemail_repository_id_repository FOREIGN KEY (repository_id) REFERENCES repository (id)
  )`,
  `CREATE UNIQUE INDEX repositoryauthorizedemail_code ON repositoryauthorizedemail (code)`,
  `CREATE UNIQUE INDEX repositoryauthorizedemail_email_repository_id ON repositoryauthorizedemail (email, repository_id)`,
  `CREATE INDEX repositoryauthorizedemail_repository_id ON repositoryauthorizedemail (repository_id)`,

  `CREATE TABLE deletedrepository (
    id SERIAL NOT NULL,
    repository_id INTEGER NOT NULL,
    marked TIMESTAMP NOT NULL,
    original_name VARCHAR(255) NOT NULL,
    queue_id VARCHAR(255),
    CONSTRAINT pk_deletedrepository PRIMARY KEY (id),
    CONSTRAINT fk_deletedrepository_repository_id_repository FOREIGN KEY (repository_id) REFERENCES repository (id)
  )`,
  `CREATE INDEX deletedrepository_original_name ON deletedrepository (original_name)`,
  `CREATE INDEX deletedrepository_queue_id ON deletedrepository (queue_id)`,
  `CREATE UNIQUE INDEX deletedrepository_repository_id ON deletedrepository (repository_id)`,

  `CREATE TABLE manifestsecuritystatus (
    id SERIAL NOT NULL,
    manifest_id INTEGER NOT NULL,
    repository_id INTEGER NOT NULL,
    index_status INTEGER NOT NULL,
    error_json TEXT NOT NULL,
    last_indexed TIMESTAMP NOT NULL,
    indexer_hash VARCHAR(128) NOT NULL,
    indexer_version INTEGER NOT NULL,
    metadata_json TEXT NOT NULL,
    CONSTRAINT pk_manifestsecuritystatus PRIMARY KEY (id),
    CONSTRAINT fk_manifestsecuritystatus_manifest_id_manifest FOREIGN KEY (manifest_id) REFERENCES manifest (id),
    CONSTRAINT fk_manifestsecuritystatus_repository_id_repository FOREIGN KEY (repository_id) REFERENCES repository (id)
  )`,
  `CREATE INDEX manifestsecuritystatus_index_status ON manifestsecuritystatus (index_status)`,
  `CREATE INDEX manifestsecuritystatus_indexer_hash ON manifestsecuritystatus (indexer_hash)`,
  `CREATE INDEX manifestsecuritystatus_indexer_version ON manifestsecuritystatus (indexer_version)`,
  `CREATE INDEX manifestsecuritystatus_last_indexed ON manifestsecuritystatus (last_indexed)`,
  `CREATE UNIQUE INDEX manifestsecuritystatus_manifest_id ON manifestsecuritystatus (manifest_id)`,
  `CREATE INDEX manifestsecuritystatus_repository_id ON manifestsecuritystatus (repository_id)`,
];

/**
 * e2894a3a3c19: trigram GIN indexes for repository search (Quay requires pg_trgm on
 * PostgreSQL). Without the extension (a PGlite built without it) the same names are
 * created as hash indexes, which accept values of any length.
 */
export function repositorySearchIndexes(trigram: boolean): string[] {
  const using = (column: string) => (trigram ? `gin (${column} gin_trgm_ops)` : `hash (${column})`);
  return [
    `CREATE INDEX repository_description__fulltext ON repository USING ${using("description")}`,
    `CREATE INDEX repository_name__fulltext ON repository USING ${using("name")}`,
  ];
}
