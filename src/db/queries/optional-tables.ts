/**
 * Tables a Quay database may lack because it predates the revision that added them
 * (organizationcontactemail, the organization-mirror tables): Pier reads them only
 * where they exist, so such a database keeps working.
 */
import type { Queryable } from "../../core/ports/sql.js";

export async function tableExists(sql: Queryable, table: string): Promise<boolean> {
  const { rows } = await sql.query<{ present: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS present`, [table]);
  return rows[0]?.present ?? false;
}
