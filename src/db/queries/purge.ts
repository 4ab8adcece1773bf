/**
 * Purging a repository marked for deletion (Quay's purge_repository,
 * data/model/repository.py): every row that depends on it, then the repository row.
 * The blobs it referenced are left to GC's storage step, which deletes those no other
 * repository uses. Audit log rows stay, as Quay keeps them.
 */
import type { Queryable } from "../../core/ports/sql.js";
import { intArray } from "./arrays.js";

/** Quay's RepositoryState.MARKED_FOR_DELETION. */
const MARKED_FOR_DELETION = 3;

/**
 * Tables a Quay database may lack, by the revision that added them; their rows are
 * deleted only where they exist. The rest are in every Quay schema Pier serves.
 */
const OPTIONAL_TABLES = [
  "tagnotificationsuccess",
  "tagpullstatistics",
  "manifestpullstatistics",
  "repositoryautoprunepolicy",
  "repositoryimmutabilitypolicy",
  "orgmirrorrepository",
  "apprtag",
] as const;

type OptionalTable = (typeof OPTIONAL_TABLES)[number];

/** Claims one repository marked for deletion (another runner skips it); its id and original name. */
export async function claimDeletedRepository(tx: Queryable): Promise<{ id: number; namespaceId: number; name: string } | null> {
  const { rows } = await tx.query<{ id: number; namespace_id: number; name: string }>(
    `SELECT r.id, r.namespace_user_id AS namespace_id,
            COALESCE((SELECT dn.original_username FROM deletednamespace dn WHERE dn.namespace_id = n.id), n.username) || '/' ||
            COALESCE((SELECT d.original_name FROM deletedrepository d WHERE d.repository_id = r.id), r.name) AS name
     FROM repository r JOIN "user" n ON n.id = r.namespace_user_id
     WHERE r.state = ${MARKED_FOR_DELETION}
     ORDER BY r.id LIMIT 1 FOR UPDATE OF r SKIP LOCKED`,
  );
  const row = rows[0];
  return row ? { id: row.id, namespaceId: row.namespace_id, name: row.name } : null;
}

/**
 * Deletes everything of the claimed repository, then its row; the storage ids it held.
 * The namespace's quota total loses the bytes of blobs no other repository of the
 * namespace references (`quota`: quota management is on).
 */
export async function purgeRepositoryRows(
  tx: Queryable,
  repository: { id: number; namespaceId: number },
  quota: boolean,
): Promise<number[]> {
  const id = repository.id;
  const present = await tablesPresent(tx, OPTIONAL_TABLES);
  const run = (text: string) => tx.query(text, [id]);
  const optional = async (table: OptionalTable, text: string) => {
    if (present.has(table)) await run(text);
  };

  const storages = await tx.query<{ id: number }>(
    `SELECT blob_id AS id FROM manifestblob WHERE repository_id = $1 UNION SELECT blob_id FROM uploadedblob WHERE repository_id = $1`,
    [id],
  );
  if (quota) await subtractRepositoryFromNamespaceTotal(tx, repository);
  await run(`DELETE FROM quotarepositorysize WHERE repository_id = $1`);

  await optional(
    "tagnotificationsuccess",
    `DELETE FROM tagnotificationsuccess WHERE tag_id IN (SELECT id FROM tag WHERE repository_id = $1)`,
  );
  await optional(
    "tagnotificationsuccess",
    `DELETE FROM tagnotificationsuccess WHERE notification_id IN (SELECT id FROM repositorynotification WHERE repository_id = $1)`,
  );
  await run(`UPDATE tag SET linked_tag_id = NULL WHERE linked_tag_id IN (SELECT id FROM tag WHERE repository_id = $1)`);
  await run(`DELETE FROM tag WHERE repository_id = $1`);
  await run(`DELETE FROM manifestchild WHERE repository_id = $1`);
  const labels = await tx.query<{ id: number }>(`DELETE FROM manifestlabel WHERE repository_id = $1 RETURNING label_id AS id`, [id]);
  await run(`DELETE FROM manifestblob WHERE repository_id = $1`);
  await run(`DELETE FROM manifestsecuritystatus WHERE repository_id = $1`);
  await run(`DELETE FROM manifest WHERE repository_id = $1`);
  if (labels.rows.length > 0) {
    await tx.query(
      `DELETE FROM label l WHERE l.id = ANY($1::int[]) AND NOT EXISTS (SELECT 1 FROM manifestlabel ml WHERE ml.label_id = l.id)`,
      [intArray(labels.rows.map((l) => l.id))],
    );
  }
  await optional("tagpullstatistics", `DELETE FROM tagpullstatistics WHERE repository_id = $1`);
  await optional("manifestpullstatistics", `DELETE FROM manifestpullstatistics WHERE repository_id = $1`);
  await run(`DELETE FROM uploadedblob WHERE repository_id = $1`);
  // Their chunk objects are left to the upload-orphans job, which removes keys no session names.
  await run(`DELETE FROM blobupload WHERE repository_id = $1`);

  await optional("repositoryautoprunepolicy", `DELETE FROM repositoryautoprunepolicy WHERE repository_id = $1`);
  await optional("repositoryimmutabilitypolicy", `DELETE FROM repositoryimmutabilitypolicy WHERE repository_id = $1`);
  await run(`DELETE FROM repositorypermission WHERE repository_id = $1`);
  await run(`DELETE FROM star WHERE repository_id = $1`);
  await run(`DELETE FROM repositoryactioncount WHERE repository_id = $1`);
  await run(`DELETE FROM repositorysearchscore WHERE repository_id = $1`);
  await run(`DELETE FROM repositoryauthorizedemail WHERE repository_id = $1`);
  // Builds name triggers and tokens, triggers name tokens: in that order.
  await run(`DELETE FROM repositorybuild WHERE repository_id = $1`);
  await run(`DELETE FROM repositorybuildtrigger WHERE repository_id = $1`);
  await run(`DELETE FROM accesstoken WHERE repository_id = $1`);
  await run(`DELETE FROM repositorynotification WHERE repository_id = $1`);
  await run(`DELETE FROM repomirrorconfig WHERE repository_id = $1`);
  await run(`DELETE FROM repomirrorrule WHERE repository_id = $1`);
  await optional("orgmirrorrepository", `UPDATE orgmirrorrepository SET repository_id = NULL WHERE repository_id = $1`);
  await optional("apprtag", `DELETE FROM apprtag WHERE repository_id = $1`);

  await run(
    `DELETE FROM queueitem WHERE id IN (SELECT queue_id::int FROM deletedrepository WHERE repository_id = $1 AND queue_id ~ '^[0-9]+$')`,
  );
  await run(`DELETE FROM deletedrepository WHERE repository_id = $1`);
  await run(`DELETE FROM repository WHERE id = $1`);
  return storages.rows.map((r) => r.id);
}

/** Takes the bytes of blobs only this repository references out of its namespace's total. */
async function subtractRepositoryFromNamespaceTotal(tx: Queryable, repository: { id: number; namespaceId: number }): Promise<void> {
  await tx.query(`SELECT 1 FROM quotanamespacesize WHERE namespace_user_id = $1 FOR UPDATE`, [repository.namespaceId]);
  await tx.query(
    `UPDATE quotanamespacesize SET size_bytes = CASE WHEN backfill_complete THEN GREATEST(size_bytes - (
       SELECT COALESCE(sum(s.image_size), 0) FROM imagestorage s
       WHERE s.id IN (SELECT blob_id FROM manifestblob WHERE repository_id = $2)
         AND NOT EXISTS (SELECT 1 FROM manifestblob o JOIN repository r ON r.id = o.repository_id
                         WHERE o.blob_id = s.id AND r.namespace_user_id = $1 AND o.repository_id <> $2)), 0) ELSE size_bytes END
     WHERE namespace_user_id = $1`,
    [repository.namespaceId, repository.id],
  );
}

/**
 * Namespaces Quay (or Pier) marked for deletion (`deletednamespace`, the user row
 * disabled and renamed) whose queue item is due: their repositories are marked for the
 * repository purge. How many namespaces had repositories left.
 */
export async function markRepositoriesOfDeletedNamespaces(tx: Queryable, now: Date): Promise<number> {
  const { rowCount } = await tx.query(
    `UPDATE repository SET state = ${MARKED_FOR_DELETION}
     WHERE state <> ${MARKED_FOR_DELETION} AND namespace_user_id IN (SELECT d.namespace_id FROM deletednamespace d WHERE ${DUE})`,
    [now],
  );
  return rowCount;
}

/** A marker's queue item (Quay's grace period) has become available, or it has none. */
const DUE = `NOT EXISTS (SELECT 1 FROM queueitem q WHERE q.id::text = d.queue_id AND q.available_after > $1)`;

/** Claims one due deleted namespace whose repositories are all purged. */
export async function claimDeletedNamespace(
  tx: Queryable,
  now: Date,
): Promise<{ id: number; name: string; queueId: string | null } | null> {
  const { rows } = await tx.query<{ id: number; name: string; queue_id: string | null }>(
    `SELECT d.namespace_id AS id, d.original_username AS name, d.queue_id FROM deletednamespace d
     WHERE ${DUE} AND NOT EXISTS (SELECT 1 FROM repository r WHERE r.namespace_user_id = d.namespace_id)
     ORDER BY d.id LIMIT 1 FOR UPDATE OF d SKIP LOCKED`,
    [now],
  );
  const row = rows[0];
  return row ? { id: row.id, name: row.name, queueId: row.queue_id } : null;
}

/**
 * Deletes a claimed namespace as Quay's delete_user does: its robots, teams, OAuth
 * applications, quotas, policies, notifications and every other row naming it or its
 * robots, then the robots and the namespace's own row. Its repositories are gone already.
 */
export async function purgeNamespaceRows(tx: Queryable, namespace: { id: number; name: string; queueId: string | null }): Promise<void> {
  const robots = await tx.query<{ id: number }>(`SELECT id FROM "user" WHERE robot AND username LIKE $1 ESCAPE '\\'`, [
    `${namespace.name.replace(/[\\%_]/g, "\\$&")}+%`,
  ]);
  const users = intArray([namespace.id, ...robots.rows.map((r) => r.id)]);
  const teams = intArray(
    (await tx.query<{ id: number }>(`SELECT id FROM team WHERE organization_id = $1`, [namespace.id])).rows.map((t) => t.id),
  );
  const present = await tablesPresent(tx, NAMESPACE_TABLES);
  const apps = `(SELECT id FROM oauthapplication WHERE organization_id = ANY($1::int[]))`;
  const triggers = `(SELECT id FROM repositorybuildtrigger WHERE connected_user_id = ANY($1::int[]) OR pull_robot_id = ANY($1::int[]))`;
  // $1 is the users (the namespace and its robots) and $2 the teams, or $1 the teams alone where marked.
  const steps: [NamespaceTable, string, "teams"?][] = [
    ["teamsync", `DELETE FROM teamsync WHERE team_id = ANY($1::int[])`, "teams"],
    [
      "teammemberinvite",
      `DELETE FROM teammemberinvite WHERE team_id = ANY($2::int[]) OR inviter_id = ANY($1::int[]) OR user_id = ANY($1::int[])`,
    ],
    ["teammember", `DELETE FROM teammember WHERE team_id = ANY($2::int[]) OR user_id = ANY($1::int[])`],
    ["repositorypermission", `DELETE FROM repositorypermission WHERE team_id = ANY($2::int[]) OR user_id = ANY($1::int[])`],
    [
      "permissionprototype",
      `DELETE FROM permissionprototype WHERE org_id = ANY($1::int[]) OR delegate_team_id = ANY($2::int[])
         OR delegate_user_id = ANY($1::int[]) OR activating_user_id = ANY($1::int[])`,
    ],
    ["team", `DELETE FROM team WHERE id = ANY($1::int[])`, "teams"],
    ["oauthassignedtoken", `DELETE FROM oauthassignedtoken WHERE application_id IN ${apps} OR assigned_user_id = ANY($1::int[])`],
    ["oauthaccesstoken", `DELETE FROM oauthaccesstoken WHERE application_id IN ${apps} OR authorized_user_id = ANY($1::int[])`],
    ["oauthauthorizationcode", `DELETE FROM oauthauthorizationcode WHERE application_id IN ${apps}`],
    ["oauthapplication", `DELETE FROM oauthapplication WHERE organization_id = ANY($1::int[])`],
    ["repositorybuild", `DELETE FROM repositorybuild WHERE trigger_id IN ${triggers} OR pull_robot_id = ANY($1::int[])`],
    ["repositorybuildtrigger", `DELETE FROM repositorybuildtrigger WHERE id IN ${triggers}`],
    ["quotalimits", `DELETE FROM quotalimits WHERE quota_id IN (SELECT id FROM userorganizationquota WHERE namespace_id = ANY($1::int[]))`],
    ["userorganizationquota", `DELETE FROM userorganizationquota WHERE namespace_id = ANY($1::int[])`],
    [
      "orgmirrorrepository",
      `DELETE FROM orgmirrorrepository WHERE org_mirror_config_id IN
         (SELECT id FROM orgmirrorconfig WHERE organization_id = ANY($1::int[]) OR internal_robot_id = ANY($1::int[]))`,
    ],
    ["orgmirrorconfig", `DELETE FROM orgmirrorconfig WHERE organization_id = ANY($1::int[]) OR internal_robot_id = ANY($1::int[])`],
    // Mirrors of other namespaces' repositories that sync as one of these robots (Quay deletes the config).
    ["repomirrorconfig", `DELETE FROM repomirrorconfig WHERE internal_robot_id = ANY($1::int[])`],
    ["robotaccountmetadata", `DELETE FROM robotaccountmetadata WHERE robot_account_id = ANY($1::int[])`],
    ["robotaccounttoken", `DELETE FROM robotaccounttoken WHERE robot_account_id = ANY($1::int[])`],
    ["federatedlogin", `DELETE FROM federatedlogin WHERE user_id = ANY($1::int[])`],
    ["emailconfirmation", `DELETE FROM emailconfirmation WHERE user_id = ANY($1::int[])`],
    ["appspecificauthtoken", `DELETE FROM appspecificauthtoken WHERE user_id = ANY($1::int[])`],
    ["star", `DELETE FROM star WHERE user_id = ANY($1::int[])`],
    ["notification", `DELETE FROM notification WHERE target_id = ANY($1::int[])`],
    ["userprompt", `DELETE FROM userprompt WHERE user_id = ANY($1::int[])`],
    ["userregion", `DELETE FROM userregion WHERE user_id = ANY($1::int[])`],
    ["redhatsubscriptions", `DELETE FROM redhatsubscriptions WHERE user_id = ANY($1::int[])`],
    ["organizationrhskus", `DELETE FROM organizationrhskus WHERE org_id = ANY($1::int[]) OR user_id = ANY($1::int[])`],
    ["organizationcontactemail", `DELETE FROM organizationcontactemail WHERE organization_id = ANY($1::int[])`],
    ["proxycacheconfig", `DELETE FROM proxycacheconfig WHERE organization_id = ANY($1::int[])`],
    ["namespacenotification", `DELETE FROM namespacenotification WHERE namespace_id = ANY($1::int[])`],
    ["quotanotificationstate", `DELETE FROM quotanotificationstate WHERE namespace_id = ANY($1::int[])`],
    ["quotanamespacesize", `DELETE FROM quotanamespacesize WHERE namespace_user_id = ANY($1::int[])`],
    ["autoprunetaskstatus", `DELETE FROM autoprunetaskstatus WHERE namespace_id = ANY($1::int[])`],
    ["namespaceautoprunepolicy", `DELETE FROM namespaceautoprunepolicy WHERE namespace_id = ANY($1::int[])`],
    ["repositoryautoprunepolicy", `DELETE FROM repositoryautoprunepolicy WHERE namespace_id = ANY($1::int[])`],
    ["namespaceimmutabilitypolicy", `DELETE FROM namespaceimmutabilitypolicy WHERE namespace_id = ANY($1::int[])`],
    ["repositoryimmutabilitypolicy", `DELETE FROM repositoryimmutabilitypolicy WHERE namespace_id = ANY($1::int[])`],
    ["servicekeyapproval", `UPDATE servicekeyapproval SET approver_id = NULL WHERE approver_id = ANY($1::int[])`],
    ["deletednamespace", `DELETE FROM deletednamespace WHERE namespace_id = ANY($1::int[])`],
  ];
  for (const [table, text, only] of steps) {
    if (present.has(table)) await tx.query(text, only === "teams" ? [teams] : text.includes("$2") ? [users, teams] : [users]);
  }
  if (namespace.queueId !== null && /^[0-9]+$/.test(namespace.queueId)) {
    await tx.query(`DELETE FROM queueitem WHERE id = $1`, [Number(namespace.queueId)]);
  }
  await tx.query(`DELETE FROM "user" WHERE id = ANY($1::int[]) AND id <> $2`, [users, namespace.id]);
  await tx.query(`DELETE FROM "user" WHERE id = $1`, [namespace.id]);
}

/** Every table the namespace purge touches: a Quay database of another revision may lack some. */
const NAMESPACE_TABLES = [
  "teamsync",
  "teammemberinvite",
  "teammember",
  "repositorypermission",
  "permissionprototype",
  "team",
  "oauthassignedtoken",
  "oauthaccesstoken",
  "oauthauthorizationcode",
  "oauthapplication",
  "repositorybuild",
  "repositorybuildtrigger",
  "quotalimits",
  "userorganizationquota",
  "orgmirrorrepository",
  "orgmirrorconfig",
  "repomirrorconfig",
  "robotaccountmetadata",
  "robotaccounttoken",
  "federatedlogin",
  "emailconfirmation",
  "appspecificauthtoken",
  "star",
  "notification",
  "userprompt",
  "userregion",
  "redhatsubscriptions",
  "organizationrhskus",
  "organizationcontactemail",
  "proxycacheconfig",
  "namespacenotification",
  "quotanotificationstate",
  "quotanamespacesize",
  "autoprunetaskstatus",
  "namespaceautoprunepolicy",
  "repositoryautoprunepolicy",
  "namespaceimmutabilitypolicy",
  "repositoryimmutabilitypolicy",
  "servicekeyapproval",
  "deletednamespace",
] as const;

type NamespaceTable = (typeof NAMESPACE_TABLES)[number];

async function tablesPresent<T extends string>(tx: Queryable, tables: readonly T[]): Promise<Set<T>> {
  const { rows } = await tx.query<{ name: T }>(`SELECT t AS name FROM unnest($1::text[]) AS t WHERE to_regclass(t) IS NOT NULL`, [
    `{${tables.join(",")}}`,
  ]);
  return new Set(rows.map((r) => r.name));
}

/**
 * Marks a namespace for deletion as Quay's mark_namespace_for_deletion does (without a
 * grace period): a `deletednamespace` marker, the row disabled with its username and
 * e-mail replaced by uuids, a `namespacegc` queue item; its robots are disabled at once
 * (Quay deletes them here; the purge job does in Pier). Returns its repositories' names.
 */
export async function markNamespaceForDeletion(
  tx: Queryable,
  namespace: { id: number; username: string; email: string },
  now: Date,
): Promise<string[]> {
  const repositories = await tx.query<{ name: string }>(
    `SELECT name FROM repository WHERE namespace_user_id = $1 AND state <> ${MARKED_FOR_DELETION}`,
    [namespace.id],
  );
  const marker = await tx.query<{ id: number }>(
    `INSERT INTO deletednamespace (namespace_id, marked, original_username, original_email) VALUES ($1, $2, $3, $4) RETURNING id`,
    [namespace.id, now, namespace.username, namespace.email],
  );
  await tx.query(`UPDATE "user" SET enabled = false, username = $2, email = $3 WHERE id = $1`, [
    namespace.id,
    crypto.randomUUID(),
    crypto.randomUUID(),
  ]);
  await tx.query(`UPDATE "user" SET enabled = false WHERE robot AND username LIKE $1 ESCAPE '\\'`, [
    `${namespace.username.replace(/[\\%_]/g, "\\$&")}+%`,
  ]);
  const markerId = marker.rows[0]!.id;
  const queued = await tx.query<{ id: number }>(
    `INSERT INTO queueitem (queue_name, body, available_after, available, retries_remaining, state_id)
     VALUES ($1, $2, $3, true, 5, $4) RETURNING id`,
    [
      `namespacegc/${namespace.id}/`,
      JSON.stringify({ marker_id: markerId, original_username: namespace.username }),
      now,
      crypto.randomUUID(),
    ],
  );
  await tx.query(`UPDATE deletednamespace SET queue_id = $2 WHERE id = $1`, [markerId, String(queued.rows[0]!.id)]);
  return repositories.rows.map((r) => `${namespace.username}/${r.name}`);
}
