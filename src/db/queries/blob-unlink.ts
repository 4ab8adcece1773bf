/**
 * Unlinking a blob from one repository (`DELETE /v2/<name>/blobs/<digest>`): its
 * upload links there go; a manifest link keeps it. Serialized with blob commits and GC
 * by the per-digest lock they take.
 */
import type { Queryable } from "../../core/ports/sql.js";
import { lockBlobDigests } from "./uploads.js";

export type UnlinkOutcome = "unlinked" | "referenced" | "unknown";

export async function unlinkRepositoryBlob(sql: Queryable, repositoryId: number, digest: string): Promise<UnlinkOutcome> {
  await lockBlobDigests(sql, [digest]);
  const { rows } = await sql.query<{ referenced: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM manifestblob mb JOIN imagestorage s ON s.id = mb.blob_id
                    WHERE mb.repository_id = $1 AND s.content_checksum = $2) AS referenced`,
    [repositoryId, digest],
  );
  if (rows[0]!.referenced) return "referenced";
  const { rowCount } = await sql.query(
    `DELETE FROM uploadedblob ub USING imagestorage s
     WHERE ub.blob_id = s.id AND ub.repository_id = $1 AND s.content_checksum = $2`,
    [repositoryId, digest],
  );
  return rowCount > 0 ? "unlinked" : "unknown";
}
