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
            n.username || '/' || COALESCE((SELECT d.original_name FROM deletedrepository d WHERE d.repository_id = r.id), r.name) AS name
     FROM repository r JOIN "user" n ON n.id = r.namespace_user_id
     WHERE r.state = ${MARKED_FOR_DELETION}
     ORDER BY r.id LIMIT 1 FOR UPDATE OF r SKIP LOCKED`,
  );
  const row = rows[0];
  return row ? { id: row.id, namespaceId: row.namespace_id, name: row.name } : null;
}

async function presentTables(tx: Queryable): Promise<Set<OptionalTable>> {
  const { rows } = await tx.query<{ name: OptionalTable }>(
    `SELECT t AS name FROM unnest($1::text[]) AS t WHERE to_regclass(t) IS NOT NULL`,
    [`{${OPTIONAL_TABLES.join(",")}}`],
  );
  return new Set(rows.map((r) => r.name));
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
  const present = await presentTables(tx);
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
