/**
 * The schema migrate() creates, read back from PostgreSQL's catalogs and compared with
 * the facts of docs/quay-compat.md §1 (Quay at alembic head 9fa37f66a9b6), then PGlite
 * compared with PostgreSQL catalog by catalog.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodePostgresSql } from "../../src/adapters/sql/node-postgres.js";
import { pgliteSql } from "../../src/adapters/sql/pglite.js";
import type { Queryable, Sql } from "../../src/core/ports/sql.js";
import { migrate } from "../../src/db/migrate.js";
import { createTestDatabase, type TestDatabase } from "../support/services.js";

/**
 * Columns per table: `name type[!] [=default] [->referenced table]`; `!` is NOT NULL,
 * no `=` means no server default. `serial`/`bigserial` ids are NOT NULL with a sequence.
 * Defaults are server defaults as Quay's migrations set them, not Peewee's client-side ones.
 */
const TABLES: Record<string, string> = {
  user: `id serial; uuid varchar(36); username varchar(255)!; password_hash varchar(255); email varchar(255)!; verified bool!;
    stripe_id varchar(255); organization bool!; robot bool!; invoice_email bool!; invalid_login_attempts int! =0;
    last_invalid_login timestamp!; removed_tag_expiration_s bigint! =1209600; enabled bool! =true; invoice_email_address varchar(255);
    given_name varchar(255); family_name varchar(255); company varchar(255); location varchar(255); maximum_queued_builds_count int;
    creation_date timestamp; last_accessed timestamp`,
  robotaccounttoken: `id serial; robot_account_id int! ->user; token varchar(255)!; fully_migrated bool! =false`,
  robotaccountmetadata: `id serial; robot_account_id int! ->user; description varchar(255)!; unstructured_json text!`,
  federatedlogin: `id serial; user_id int! ->user; service_id int! ->loginservice; service_ident varchar(255)!; metadata_json text!`,
  loginservice: `id serial; name varchar(255)!`,
  visibility: `id serial; name varchar(255)!`,
  repositorykind: `id serial; name varchar(255)!`,
  repository: `id serial; namespace_user_id int ->user; name varchar(255)!; visibility_id int! ->visibility; description text;
    badge_token varchar(255)!; kind_id int! =1 ->repositorykind; trust_enabled bool! =false; state int! =0`,
  role: `id serial; name varchar(255)!`,
  repositorypermission: `id serial; team_id int ->team; user_id int ->user; repository_id int! ->repository; role_id int! ->role`,
  teamrole: `id serial; name varchar(255)!`,
  team: `id serial; name varchar(255)!; organization_id int! ->user; role_id int! ->teamrole; description text!`,
  teammember: `id serial; user_id int! ->user; team_id int! ->team`,
  accesstokenkind: `id serial; name varchar(255)!`,
  accesstoken: `id serial; friendly_name varchar(255); token_name varchar(255)!; token_code varchar(255)!; repository_id int! ->repository;
    created timestamp!; role_id int! ->role; temporary bool!; kind_id int ->accesstokenkind`,
  appspecificauthtoken: `id serial; user_id int! ->user; uuid varchar(36)!; title varchar(255)!; token_name varchar(255)!;
    token_secret varchar(255)!; created timestamp!; expiration timestamp; last_accessed timestamp`,
  servicekeyapproval: `id serial; approver_id int; approval_type varchar(255)!; approved_date timestamp!; notes text!`,
  servicekey: `id serial; name varchar(255)!; kid varchar(255)!; service varchar(255)!; jwk text!; metadata text!; created_date timestamp!;
    expiration_date timestamp; rotation_duration int; approval_id int ->servicekeyapproval`,
  mediatype: `id serial; name varchar(255)!`,
  tagkind: `id serial; name varchar(255)!`,
  tag: `id serial; name varchar(255)!; repository_id int! ->repository; manifest_id int ->manifest; lifetime_start_ms bigint!;
    lifetime_end_ms bigint; immutable bool! =false; hidden bool! =false; reversion bool! =false; tag_kind_id int! ->tagkind; linked_tag_id int ->tag`,
  manifest: `id serial; repository_id int! ->repository; digest varchar(255)!; media_type_id int! ->mediatype; manifest_bytes text!;
    config_media_type varchar(255); layers_compressed_size bigint; subject varchar(255); subject_backfilled bool; artifact_type varchar(255);
    artifact_type_backfilled bool`,
  manifestblob: `id bigserial; repository_id int! ->repository; manifest_id int! ->manifest; blob_id int! ->imagestorage`,
  manifestchild: `id serial; repository_id int! ->repository; manifest_id int! ->manifest; child_manifest_id int! ->manifest`,
  manifestlabel: `id serial; repository_id int! ->repository; manifest_id int! ->manifest; label_id int! ->label`,
  label: `id serial; uuid varchar(255)!; key varchar(255)!; value text!; media_type_id int! ->mediatype; source_type_id int! ->labelsourcetype`,
  labelsourcetype: `id serial; name varchar(255)!; mutable bool!`,
  imagestorage: `id serial; uuid varchar(255)!; image_size bigint; uncompressed_size bigint; uploading bool; cas_path bool! =false;
    content_checksum varchar(255)`,
  imagestoragelocation: `id serial; name varchar(255)!`,
  imagestorageplacement: `id serial; storage_id int! ->imagestorage; location_id int! ->imagestoragelocation`,
  uploadedblob: `id bigserial; repository_id int! ->repository; blob_id int! ->imagestorage; uploaded_at timestamp!; expires_at timestamp!`,
  blobupload: `id serial; repository_id int! ->repository; uuid varchar(255)!; byte_count bigint!; sha_state text;
    location_id int! ->imagestoragelocation; storage_metadata text; chunk_count int! =0; uncompressed_byte_count bigint;
    created timestamp! =@timestamp; piece_sha_state text; piece_hashes text`,
  logentrykind: `id serial; name varchar(255)!`,
  logentry3: `id bigserial; kind_id int!; account_id int!; performer_id int; repository_id int; datetime timestamp!; ip varchar(255);
    metadata_json text!`,
  logentry: `id bigserial; kind_id int! ->logentrykind; account_id int!; performer_id int; repository_id int; datetime timestamp!;
    ip varchar(255); metadata_json text!`,
  logentry2: `id serial; kind_id int! ->logentrykind; account_id int!; performer_id int; repository_id int; datetime timestamp!;
    ip varchar(255); metadata_json text!`,
  proxycacheconfig: `id serial; organization_id int! ->user; creation_date timestamp!; upstream_registry varchar(2048)!;
    upstream_registry_username varchar(4096); upstream_registry_password varchar(4096); expiration_s int =86400; insecure bool! =false`,
  namespaceautoprunepolicy: `id serial; uuid varchar(36)!; namespace_id int! ->user; policy text!`,
  repositoryautoprunepolicy: `id serial; uuid varchar(36)!; repository_id int! ->repository; namespace_id int! ->user; policy text!`,
  autoprunetaskstatus: `id serial; namespace_id int! ->user; last_ran_ms bigint; status text`,
  quotanamespacesize: `id serial; namespace_user_id int! ->user; size_bytes bigint! =0; backfill_start_ms bigint; backfill_complete bool! =false`,
  quotarepositorysize: `id serial; repository_id int! ->repository; size_bytes bigint! =0; backfill_start_ms bigint; backfill_complete bool! =false`,
  quotaregistrysize: `id serial; size_bytes bigint! =0; running bool! =false; queued bool! =false; completed_ms bigint`,
  userorganizationquota: `id serial; namespace_id int! ->user; limit_bytes bigint!`,
  quotatype: `id serial; name varchar(255)!`,
  quotalimits: `id serial; quota_id int! ->userorganizationquota; quota_type_id int! ->quotatype; percent_of_limit int!`,
  repomirrorrule: `id serial; uuid varchar(36)!; repository_id int! ->repository; creation_date timestamp!; rule_type int!; rule_value text!;
    left_child_id int ->repomirrorrule; right_child_id int ->repomirrorrule`,
  repomirrorconfig: `id serial; repository_id int! ->repository; creation_date timestamp!; is_enabled bool!; mirror_type int!;
    internal_robot_id int! ->user; external_reference text!; external_registry_username varchar(4096); external_registry_password varchar(9000);
    external_registry_config text!; architecture_filter text; sync_interval int! =60; sync_start_date timestamp; sync_expiration_date timestamp;
    sync_retries_remaining int! =3; sync_status int!; sync_transaction_id varchar(36); root_rule_id int! ->repomirrorrule; skopeo_timeout bigint! =300`,
  manifestsecuritystatus: `id serial; manifest_id int! ->manifest; repository_id int! ->repository; index_status int!; error_json text!;
    last_indexed timestamp!; indexer_hash varchar(128)!; indexer_version int!; metadata_json text!`,
  deletedrepository: `id serial; repository_id int! ->repository; marked timestamp!; original_name varchar(255)!; queue_id varchar(255)`,
  queueitem: `id serial; queue_name varchar(1024)!; body text!; available_after timestamp!; available bool!; processing_expires timestamp;
    retries_remaining int!; state_id varchar(255)! =''`,
  repositoryactioncount: `id serial; repository_id int! ->repository; count int!; date date!`,
  repositorysearchscore: `id serial; repository_id int! ->repository; score bigint!; last_updated timestamp`,
};

/** Unique indexes per table (name → columns): the complete set for every table of TABLES. */
const UNIQUE_INDEXES: Record<string, Record<string, string>> = {
  user: { user_username: "username", user_email_unique_non_org: "email" },
  robotaccounttoken: { robotaccounttoken_robot_account_id: "robot_account_id" },
  robotaccountmetadata: { robotaccountmetadata_robot_account_id: "robot_account_id" },
  federatedlogin: {
    federatedlogin_service_id_service_ident: "service_id,service_ident",
    federatedlogin_service_id_user_id: "service_id,user_id",
  },
  repository: { repository_namespace_user_id_name: "namespace_user_id,name" },
  repositorypermission: {
    repositorypermission_team_id_repository_id: "team_id,repository_id",
    repositorypermission_user_id_repository_id: "user_id,repository_id",
  },
  team: { team_name_organization_id: "name,organization_id" },
  teammember: { teammember_user_id_team_id: "user_id,team_id" },
  accesstoken: { accesstoken_token_name: "token_name" },
  appspecificauthtoken: { appspecificauthtoken_token_name: "token_name" },
  servicekey: { servicekey_kid: "kid" },
  tag: { tag_repository_id_name_lifetime_end_ms: "repository_id,name,lifetime_end_ms" },
  manifest: { manifest_repository_id_digest: "repository_id,digest" },
  manifestblob: { manifestblob_manifest_id_blob_id: "manifest_id,blob_id" },
  manifestchild: { manifestchild_manifest_id_child_manifest_id: "manifest_id,child_manifest_id" },
  manifestlabel: { manifestlabel_manifest_id_label_id: "manifest_id,label_id" },
  label: { label_uuid: "uuid" },
  imagestorage: { imagestorage_uuid: "uuid" },
  imagestorageplacement: { imagestorageplacement_storage_id_location_id: "storage_id,location_id" },
  blobupload: { blobupload_uuid: "uuid", blobupload_repository_id_uuid: "repository_id,uuid" },
  namespaceautoprunepolicy: { namespaceautoprunepolicy_uuid: "uuid" },
  repositoryautoprunepolicy: { repositoryautoprunepolicy_uuid: "uuid" },
  autoprunetaskstatus: { autoprunetaskstatus_namespace_id: "namespace_id" },
  quotanamespacesize: { quotanamespacesize_namespace_user_id: "namespace_user_id" },
  quotarepositorysize: { quotarepositorysize_repository_id: "repository_id" },
  userorganizationquota: { userorganizationquota_organization: "namespace_id" },
  repomirrorrule: { repomirrorrule_uuid: "uuid" },
  repomirrorconfig: { repomirrorconfig_repository_id: "repository_id" },
  manifestsecuritystatus: { manifestsecuritystatus_manifest_id: "manifest_id" },
  deletedrepository: { deletedrepository_repository_id: "repository_id" },
  queueitem: { queueitem_state_id: "state_id" },
  repositoryactioncount: { repositoryactioncount_repository_id_date: "repository_id,date" },
  repositorysearchscore: { repositorysearchscore_repository_id: "repository_id" },
  ...Object.fromEntries(
    [
      "loginservice",
      "visibility",
      "repositorykind",
      "role",
      "accesstokenkind",
      "mediatype",
      "tagkind",
      "labelsourcetype",
      "imagestoragelocation",
    ]
      .concat("logentrykind")
      .map((table) => [table, { [`${table}_name`]: "name" }]),
  ),
};

/** Non-unique indexes quay-compat.md names (table → name → columns). */
const PLAIN_INDEXES: Record<string, Record<string, string>> = {
  user: {
    user_email_idx: "email",
    user_uuid: "uuid",
    user_stripe_id: "stripe_id",
    user_organization: "organization",
    user_robot: "robot",
    user_invoice_email_address: "invoice_email_address",
    user_last_accessed: "last_accessed",
  },
  federatedlogin: { federatedlogin_user_id: "user_id" },
  repository: { repository_state: "state" },
  teamrole: { teamrole_name: "name" },
  team: { team_name: "name" },
  appspecificauthtoken: { appspecificauthtoken_uuid: "uuid", appspecificauthtoken_user_id_expiration: "user_id,expiration" },
  servicekeyapproval: { servicekeyapproval_approval_type: "approval_type" },
  servicekey: { servicekey_service: "service" },
  tag: {
    tag_repository_id_name: "repository_id,name",
    tag_repository_id_name_hidden: "repository_id,name,hidden",
    tag_repository_id_name_tag_kind_id: "repository_id,name,tag_kind_id",
    tag_repository_id_lifetime_start_ms: "repository_id,lifetime_start_ms",
    tag_repository_id_lifetime_end_ms: "repository_id,lifetime_end_ms",
    tag_repository_id_immutable: "repository_id,immutable",
    tag_manifest_id_immutable: "manifest_id,immutable",
    tag_manifest_id_lifetime_end_ms: "manifest_id,lifetime_end_ms",
    tag_lifetime_end_ms: "lifetime_end_ms",
    tag_linked_tag_id: "linked_tag_id",
    tag_manifest_id: "manifest_id",
    tag_repository_id: "repository_id",
    tag_tag_kind_id: "tag_kind_id",
  },
  manifest: {
    manifest_digest: "digest",
    manifest_repository_id_media_type_id: "repository_id,media_type_id",
    manifest_repository_id_config_media_type: "repository_id,config_media_type",
    manifest_repository_id_subject: "repository_id,subject",
    manifest_repository_id_artifact_type: "repository_id,artifact_type",
    manifest_subject_backfilled: "subject_backfilled",
    manifest_artifact_type_backfilled: "artifact_type_backfilled",
  },
  manifestblob: { manifestblob_repository_id_blob_id: "repository_id,blob_id", manifestblob_repository_id: "repository_id" },
  manifestchild: {
    manifestchild_repository_id_manifest_id: "repository_id,manifest_id",
    manifestchild_repository_id_child_manifest_id: "repository_id,child_manifest_id",
    manifestchild_repository_id_manifest_id_child_manifest_id: "repository_id,manifest_id,child_manifest_id",
  },
  imagestorage: { imagestorage_content_checksum: "content_checksum" },
  uploadedblob: { uploadedblob_blob_id: "blob_id", uploadedblob_expires_at: "expires_at" },
  blobupload: { blobupload_created: "created" },
  logentry3: {
    logentry3_datetime: "datetime",
    logentry3_account_id_datetime: "account_id,datetime",
    logentry3_performer_id_datetime: "performer_id,datetime",
    logentry3_repository_id_datetime_kind_id: "repository_id,datetime,kind_id",
  },
  namespaceautoprunepolicy: { namespaceautoprunepolicy_namespace_id: "namespace_id" },
  repositoryautoprunepolicy: {
    repositoryautoprunepolicy_repository_id: "repository_id",
    repositoryautoprunepolicy_namespace_id: "namespace_id",
  },
  autoprunetaskstatus: { autoprunetaskstatus_last_ran_ms: "last_ran_ms" },
  quotanamespacesize: { quotanamespacesize_size_bytes: "size_bytes", quotanamespacesize_backfill_start_ms: "backfill_start_ms" },
  quotarepositorysize: { quotarepositorysize_size_bytes: "size_bytes" },
  quotalimits: { quotalimits_quota_id: "quota_id" },
  manifestsecuritystatus: { manifestsecuritystatus_last_indexed: "last_indexed", manifestsecuritystatus_indexer_hash: "indexer_hash" },
};

const TYPES: Record<string, string> = {
  int: "integer",
  bigint: "bigint",
  bool: "boolean",
  text: "text",
  timestamp: "timestamp without time zone",
  date: "date",
};

interface Column {
  type: string;
  notNull: boolean;
  default: string | null;
}

function expectedColumns(spec: string): { columns: Record<string, Column>; fks: string[] } {
  const columns: Record<string, Column> = {};
  const fks: string[] = [];
  for (const part of spec.split(";").map((p) => p.trim())) {
    const [, name, type, bang, dflt, ref] = part.match(/^(\w+) ([\w()]+)(!?)(?: =(\S+))?(?: ->(\w+))?$/)!;
    const varchar = type!.match(/^varchar\((\d+)\)$/);
    if (type === "serial" || type === "bigserial") {
      columns[name!] = { type: type === "serial" ? "integer" : "bigint", notNull: true, default: "@sequence" };
      continue;
    }
    columns[name!] = { type: varchar ? `character varying(${varchar[1]})` : TYPES[type!]!, notNull: bang === "!", default: dflt ?? null };
    if (ref) fks.push(`${name}->${ref}`);
  }
  return { columns, fks };
}

/** Catalog default normalised to the spec's notation (casts dropped, sequences and timestamps generalised). */
function normaliseDefault(expression: string | null): string | null {
  if (expression === null) return null;
  if (/^nextval\('\w+_id_seq'::regclass\)$/.test(expression)) return "@sequence";
  if (/^'\d{4}-\d\d-\d\d \d\d:\d\d:\d\d'::timestamp without time zone$/.test(expression)) return "@timestamp";
  return expression.replace(/::[a-z ]+$/, "");
}

async function actualColumns(sql: Queryable, table: string): Promise<Record<string, Column>> {
  const { rows } = await sql.query<{ name: string; type: string; not_null: boolean; dflt: string | null }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null, pg_get_expr(d.adbin, d.adrelid) AS dflt
       FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE a.attrelid = quote_ident($1)::regclass AND a.attnum > 0 AND NOT a.attisdropped`,
    [table],
  );
  return Object.fromEntries(rows.map((r) => [r.name, { type: r.type, notNull: r.not_null, default: normaliseDefault(r.dflt) }]));
}

/** Indexes of a table: name → { unique, columns, predicate }. */
async function actualIndexes(sql: Queryable, table: string) {
  const { rows } = await sql.query<{ name: string; unique: boolean; primary: boolean; columns: string; predicate: string | null }>(
    `SELECT c.relname AS name, i.indisunique AS unique, i.indisprimary AS primary, pg_get_expr(i.indpred, i.indrelid) AS predicate,
            (SELECT string_agg(a.attname, ',' ORDER BY k.ord) FROM unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum) AS columns
       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = quote_ident($1)::regclass`,
    [table],
  );
  return rows.filter((r) => !r.primary);
}

async function actualForeignKeys(sql: Queryable, table: string): Promise<string[]> {
  const { rows } = await sql.query<{ fk: string }>(
    `SELECT a.attname || '->' || trim(both '"' from c.confrelid::regclass::text) AS fk
       FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
      WHERE c.contype = 'f' AND c.conrelid = quote_ident($1)::regclass`,
    [table],
  );
  return rows.map((r) => r.fk).sort();
}

async function names(sql: Queryable, table: string): Promise<string[]> {
  const { rows } = await sql.query<{ name: string }>(`SELECT name FROM ${table} ORDER BY id`);
  return rows.map((r) => r.name);
}

/** Everything a Quay process could observe of the schema, in a driver-independent form. */
async function catalogSnapshot(sql: Queryable) {
  const search = (def: string) => def.replace(/USING (gin|hash) \((\w+)(?: gin_trgm_ops)?\)/, "USING <search> ($2)");
  const columns = await sql.query<{ t: string; c: string; type: string; nn: boolean; d: string | null }>(
    `SELECT c.relname AS t, a.attname AS c, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS nn, pg_get_expr(d.adbin, d.adrelid) AS d
       FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
       LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
      WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r' ORDER BY 1, a.attnum`,
  );
  const indexes = await sql.query<{ indexdef: string }>(
    `SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() ORDER BY indexname`,
  );
  const constraints = await sql.query<{ name: string; def: string }>(
    `SELECT conrelid::regclass::text || '.' || conname AS name, pg_get_constraintdef(oid) AS def FROM pg_constraint
      WHERE connamespace = current_schema()::regnamespace AND contype IN ('p', 'f', 'u', 'c') ORDER BY 1`,
  );
  const sequences = await sql.query(`SELECT sequencename, data_type FROM pg_sequences WHERE schemaname = current_schema() ORDER BY 1`);
  const seeds: Record<string, string[]> = {};
  for (const table of [
    "logentrykind",
    "mediatype",
    "loginservice",
    "externalnotificationevent",
    "notificationkind",
    "imagestoragelocation",
  ]) {
    seeds[table] = await names(sql, table);
  }
  return {
    columns: columns.rows.map((r) => ({ ...r, d: r.t === "blobupload" && r.c === "created" ? "@timestamp" : r.d })),
    indexes: indexes.rows.map((r) => search(r.indexdef)),
    constraints: constraints.rows,
    sequences: sequences.rows,
    seeds,
  };
}

describe("Quay schema at 9fa37f66a9b6", () => {
  let db: TestDatabase;
  let sql: Sql;

  beforeAll(async () => {
    db = await createTestDatabase("schema");
    sql = nodePostgresSql(db.url);
    await migrate(sql);
  });
  afterAll(async () => {
    await sql?.close();
    await db?.drop();
  });

  it.each(Object.keys(TABLES))("%s has Quay's columns, types, nullability, defaults and foreign keys", async (table) => {
    const expected = expectedColumns(TABLES[table]!);
    expect(await actualColumns(sql, table)).toEqual(expected.columns);
    expect(await actualForeignKeys(sql, table)).toEqual(expected.fks.sort());
  });

  it.each(Object.keys(TABLES))("%s has exactly Quay's unique indexes and its named plain ones", async (table) => {
    const indexes = await actualIndexes(sql, table);
    const unique = Object.fromEntries(indexes.filter((i) => i.unique).map((i) => [i.name, i.columns]));
    expect(unique).toEqual(UNIQUE_INDEXES[table] ?? {});
    const plain = Object.fromEntries(indexes.filter((i) => !i.unique).map((i) => [i.name, i.columns]));
    expect(plain).toMatchObject(PLAIN_INDEXES[table] ?? {});
  });

  it("makes e-mails unique among users and robots only (user_email_unique_non_org)", async () => {
    const index = (await actualIndexes(sql, "user")).find((i) => i.name === "user_email_unique_non_org");
    expect(index).toMatchObject({ unique: true, columns: "email", predicate: "(organization = false)" });
    const { rows } = await sql.query(`SELECT 1 FROM pg_indexes WHERE indexname = 'user_email'`);
    expect(rows).toEqual([]);
  });

  it("indexes repository name and description with pg_trgm GIN, as Quay requires on PostgreSQL", async () => {
    const { rows } = await sql.query<{ indexname: string; indexdef: string }>(
      `SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'repository' AND indexname LIKE '%fulltext' ORDER BY 1`,
    );
    expect(rows.map((r) => r.indexname)).toEqual(["repository_description__fulltext", "repository_name__fulltext"]);
    for (const row of rows) expect(row.indexdef).toMatch(/USING gin \(\w+ gin_trgm_ops\)$/);
  });

  it("seeds the lookup rows Quay's migrations insert", async () => {
    expect(await names(sql, "mediatype")).toEqual(
      expect.arrayContaining([
        "text/plain",
        "application/json",
        "text/markdown",
        "application/vnd.docker.distribution.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
      ]),
    );
    expect((await names(sql, "mediatype")).filter((n) => n.startsWith("application/vnd.cnr."))).toHaveLength(9);
    expect(await names(sql, "tagkind")).toEqual(["tag"]);
    expect(await names(sql, "visibility")).toEqual(["public", "private"]);
    expect(await names(sql, "role")).toEqual(["admin", "write", "read"]);
    expect(await names(sql, "teamrole")).toEqual(["admin", "creator", "member"]);
    expect((await sql.query(`SELECT id, name FROM repositorykind ORDER BY id`)).rows).toEqual([
      { id: 1, name: "image" },
      { id: 2, name: "application" },
    ]);
    expect(await names(sql, "loginservice")).toEqual(["github", "quayrobot", "ldap", "google", "keystone", "dex", "jwtauthn", "oidc"]);
    expect(await names(sql, "quotatype")).toEqual(["Warning", "Reject"]);
    expect(await names(sql, "accesstokenkind")).toEqual(["build-worker", "pushpull-token"]);
    expect((await sql.query(`SELECT name, mutable FROM labelsourcetype ORDER BY id`)).rows).toEqual([
      { name: "manifest", mutable: false },
      { name: "api", mutable: true },
      { name: "internal", mutable: false },
    ]);
  });

  it("seeds every audit log kind quay-compat.md names, once", async () => {
    const kinds = await names(sql, "logentrykind");
    expect(new Set(kinds).size).toBe(kinds.length);
    const serviceKeyKinds = ["create", "approve", "delete", "modify", "extend", "rotate"].map((verb) => `service_key_${verb}`);
    const named = `push_repo pull_repo push_repo_failed pull_repo_failed create_repo delete_repo create_tag move_tag delete_tag
      delete_tag_failed revert_tag change_tag_expiration change_tag_immutability permanently_delete_tag autoprune_tag_delete
      create_proxy_cache_config delete_proxy_cache_config create_namespace_autoprune_policy update_namespace_autoprune_policy
      delete_namespace_autoprune_policy create_repository_autoprune_policy update_repository_autoprune_policy
      delete_repository_autoprune_policy login_success login_failure logout_success org_create_quota org_change_quota
      org_delete_quota org_create_quota_limit org_change_quota_limit org_delete_quota_limit tag_made_immutable_by_policy
      create_robot delete_robot regenerate_robot_token create_app_specific_token revoke_app_specific_token`.split(/\s+/);
    expect(kinds).toEqual(expect.arrayContaining([...named, ...serviceKeyKinds]));
  });

  it("leaves PGlite with the same tables, columns, indexes, constraints, sequences and seeds as PostgreSQL", async () => {
    const pglite = await pgliteSql();
    try {
      expect(await migrate(pglite)).toEqual({ applied: ["9fa37f66a9b6"] });
      const [expected, actual] = [await catalogSnapshot(sql), await catalogSnapshot(pglite)];
      expect(actual.columns).toEqual(expected.columns);
      expect(actual.indexes).toEqual(expected.indexes);
      expect(actual.constraints).toEqual(expected.constraints);
      expect(actual.sequences).toEqual(expected.sequences);
      expect(actual.seeds).toEqual(expected.seeds);
      // 104 Quay tables plus alembic_version: the comparison above is not vacuous.
      expect(new Set(actual.columns.map((c) => c.t)).size).toBe(105);
    } finally {
      await pglite.close();
    }
  });
});
