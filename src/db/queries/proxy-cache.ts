/** Quay's `proxycacheconfig` rows (data/model/proxy_cache.py): at most one per organization, kept so by the API. */
import type { Queryable } from "../../core/ports/sql.js";

export async function hasProxyCacheConfig(sql: Queryable, organizationId: number): Promise<boolean> {
  const { rows } = await sql.query(`SELECT 1 FROM proxycacheconfig WHERE organization_id = $1 LIMIT 1`, [organizationId]);
  return rows.length > 0;
}
