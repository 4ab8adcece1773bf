/**
 * Storage locations (`imagestoragelocation`): Quay ensures a row for every configured
 * storage at startup, and blob placements point at it.
 */
import type { Queryable } from "./ports/sql.js";

/** Id of the named location, inserting the row when absent. */
export async function ensureStorageLocation(sql: Queryable, name: string): Promise<number> {
  await sql.query(
    `INSERT INTO imagestoragelocation (name) SELECT $1::varchar WHERE NOT EXISTS (SELECT 1 FROM imagestoragelocation WHERE name = $1::varchar)`,
    [name],
  );
  const { rows } = await sql.query<{ id: number }>(`SELECT id FROM imagestoragelocation WHERE name = $1`, [name]);
  return rows[0]!.id;
}
