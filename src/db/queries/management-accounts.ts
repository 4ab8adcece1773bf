/**
 * Namespaces (users, organizations, robots — all rows of `user`), robot credentials and
 * OAuth access tokens, written the way Quay's data/model/user.py, organization.py and
 * oauth.py write them.
 */
import type { Queryable } from "../../core/ports/sql.js";
import { deleteGrantsOf } from "./management-permissions.js";
import { intArray } from "./arrays.js";
import { tableExists } from "./optional-tables.js";

export interface NamespaceRow {
  id: number;
  uuid: string | null;
  username: string;
  email: string;
  organization: boolean;
  robot: boolean;
  enabled: boolean;
  verified: boolean;
  stripe_id: string | null;
  invoice_email: boolean;
  invoice_email_address: string | null;
  /** BIGINT: arrives as text. */
  removed_tag_expiration_s: string;
  given_name: string | null;
  family_name: string | null;
  company: string | null;
  location: string | null;
  has_password: boolean;
  creation_date: Date | null;
  last_accessed: Date | null;
}

const NAMESPACE_COLUMNS = `u.id, u.uuid, u.username, u.email, u.organization, u.robot, u.enabled, u.verified, u.stripe_id,
  u.invoice_email, u.invoice_email_address, u.removed_tag_expiration_s::text AS removed_tag_expiration_s,
  u.given_name, u.family_name, u.company, u.location, u.password_hash IS NOT NULL AS has_password,
  u.creation_date, u.last_accessed`;

/** Any row of `user` by name: a user, an organization or a robot. */
export async function findNamespace(sql: Queryable, username: string): Promise<NamespaceRow | null> {
  const { rows } = await sql.query<NamespaceRow>(`SELECT ${NAMESPACE_COLUMNS} FROM "user" u WHERE u.username = $1`, [username]);
  return rows[0] ?? null;
}

export interface NewNamespace {
  uuid: string;
  username: string;
  email: string;
  organization: boolean;
  robot: boolean;
  removedTagExpirationSeconds: number;
  now: Date;
}

/** One `user` row with Quay's column defaults (unverified, enabled, no password). */
export async function insertNamespace(sql: Queryable, row: NewNamespace): Promise<number> {
  const { rows } = await sql.query<{ id: number }>(
    `INSERT INTO "user" (uuid, username, email, verified, organization, robot, invoice_email, invalid_login_attempts,
       last_invalid_login, removed_tag_expiration_s, enabled, creation_date)
     VALUES ($1, $2, $3, false, $4, $5, false, 0, $6, $7, true, $6) RETURNING id`,
    [row.uuid, row.username, row.email, row.organization, row.robot, row.now, row.removedTagExpirationSeconds],
  );
  return rows[0]!.id;
}

/**
 * The address an earlier Pier kept in `organizationcontactemail` for an organization whose
 * `user.email` is still its internal uuid (the rows Quay's b1a79fa8e630 would have moved);
 * null when there is none or the table does not exist (databases from before it).
 */
export async function findLegacyContactEmail(sql: Queryable, orgId: number): Promise<string | null> {
  if (!(await tableExists(sql, "organizationcontactemail"))) return null;
  const { rows } = await sql.query<{ contact_email: string | null }>(
    `SELECT contact_email FROM organizationcontactemail WHERE organization_id = $1`,
    [orgId],
  );
  return rows[0]?.contact_email ?? null;
}

/** Organizations in which the user is in at least one team (Quay's get_user_organizations). */
export async function listUserOrganizations(sql: Queryable, userId: number): Promise<NamespaceRow[]> {
  const { rows } = await sql.query<NamespaceRow>(
    `SELECT ${NAMESPACE_COLUMNS} FROM "user" u WHERE u.organization = true AND u.id IN (
       SELECT t.organization_id FROM team t JOIN teammember tm ON tm.team_id = t.id WHERE tm.user_id = $1)
     ORDER BY u.username`,
    [userId],
  );
  return rows;
}

/** External logins of a user, robots' own `quayrobot` entries excluded. */
export async function listFederatedLogins(
  sql: Queryable,
  userId: number,
): Promise<{ service: string; ident: string; metadata_json: string }[]> {
  const { rows } = await sql.query<{ service: string; ident: string; metadata_json: string }>(
    `SELECT s.name AS service, f.service_ident AS ident, f.metadata_json FROM federatedlogin f
     JOIN loginservice s ON s.id = f.service_id WHERE f.user_id = $1 AND s.name <> 'quayrobot' ORDER BY f.id`,
    [userId],
  );
  return rows;
}

export async function listUserPrompts(sql: Queryable, userId: number): Promise<string[]> {
  const { rows } = await sql.query<{ name: string }>(
    `SELECT k.name FROM userprompt p JOIN userpromptkind k ON k.id = p.kind_id WHERE p.user_id = $1 ORDER BY p.id`,
    [userId],
  );
  return rows.map((r) => r.name);
}

export interface RobotRow {
  id: number;
  username: string;
  email: string;
  creation_date: Date | null;
  last_accessed: Date | null;
  /** Quay's encrypted field text; null when the robot has no token row. */
  token: string | null;
  description: string | null;
  unstructured_json: string | null;
}

const ROBOT_COLUMNS = `r.id, r.username, r.email, r.creation_date, r.last_accessed, t.token, m.description, m.unstructured_json`;
const ROBOT_JOINS = `LEFT JOIN robotaccounttoken t ON t.robot_account_id = r.id LEFT JOIN robotaccountmetadata m ON m.robot_account_id = r.id`;

export async function findRobotAccount(sql: Queryable, username: string): Promise<RobotRow | null> {
  const { rows } = await sql.query<RobotRow>(
    `SELECT ${ROBOT_COLUMNS} FROM "user" r ${ROBOT_JOINS} WHERE r.username = $1 AND r.robot = true`,
    [username],
  );
  return rows[0] ?? null;
}

/**
 * Robots of a namespace (`<owner>+…`), most recently used first as Quay lists them
 * (PostgreSQL puts never-used robots first in a descending sort).
 */
export async function listRobots(sql: Queryable, owner: string, limit: number | null): Promise<RobotRow[]> {
  const { rows } = await sql.query<RobotRow>(
    `SELECT ${ROBOT_COLUMNS} FROM "user" r ${ROBOT_JOINS}
     WHERE r.robot = true AND r.username LIKE $1 ESCAPE '\\'
     ORDER BY r.last_accessed DESC, r.username LIMIT $2`,
    [`${owner.replace(/[\\%_]/g, "\\$&")}+%`, limit],
  );
  return rows;
}

/** The repositories each robot has a direct grant on, and the teams it belongs to. */
export async function listRobotGrants(
  sql: Queryable,
  robotIds: readonly number[],
): Promise<{ robot_id: number; repository: string | null; team: string | null }[]> {
  if (robotIds.length === 0) return [];
  const { rows } = await sql.query<{ robot_id: number; repository: string | null; team: string | null }>(
    `SELECT rp.user_id AS robot_id, r.name AS repository, NULL AS team FROM repositorypermission rp
       JOIN repository r ON r.id = rp.repository_id WHERE rp.user_id = ANY($1::int[])
     UNION ALL
     SELECT tm.user_id, NULL, t.name FROM teammember tm JOIN team t ON t.id = tm.team_id WHERE tm.user_id = ANY($1::int[])`,
    [intArray(robotIds)],
  );
  return rows;
}

/** The robot's token, metadata and federated-login rows (Quay's create_robot). */
export async function insertRobotRows(
  sql: Queryable,
  robotId: number,
  encryptedToken: string,
  description: string,
  unstructuredJson: string,
): Promise<void> {
  await sql.query(`INSERT INTO robotaccounttoken (robot_account_id, token, fully_migrated) VALUES ($1, $2, true)`, [
    robotId,
    encryptedToken,
  ]);
  await sql.query(
    `INSERT INTO federatedlogin (user_id, service_id, service_ident, metadata_json)
     SELECT $1, s.id, $2, '{}' FROM loginservice s WHERE s.name = 'quayrobot'`,
    [robotId, `robot:${robotId}`],
  );
  await sql.query(`INSERT INTO robotaccountmetadata (robot_account_id, description, unstructured_json) VALUES ($1, $2, $3)`, [
    robotId,
    description,
    unstructuredJson,
  ]);
}

/** Quay's regenerate_robot_token: new token, e-mail and uuid; the federated login re-pointed. */
export async function replaceRobotToken(
  sql: Queryable,
  robotId: number,
  encryptedToken: string,
  email: string,
  uuid: string,
): Promise<void> {
  const { rowCount } = await sql.query(`UPDATE robotaccounttoken SET token = $2 WHERE robot_account_id = $1`, [robotId, encryptedToken]);
  if (rowCount === 0) {
    await sql.query(`INSERT INTO robotaccounttoken (robot_account_id, token, fully_migrated) VALUES ($1, $2, true)`, [
      robotId,
      encryptedToken,
    ]);
  }
  await sql.query(
    `UPDATE federatedlogin SET service_ident = $2
     WHERE user_id = $1 AND service_id = (SELECT id FROM loginservice WHERE name = 'quayrobot')`,
    [robotId, `robot:${robotId}`],
  );
  await sql.query(`UPDATE "user" SET email = $2, uuid = $3 WHERE id = $1`, [robotId, email, uuid]);
}

export async function robotUsedByMirror(sql: Queryable, robotId: number): Promise<boolean> {
  const repoMirror = await sql.query(`SELECT 1 FROM repomirrorconfig WHERE internal_robot_id = $1`, [robotId]);
  if (repoMirror.rows.length > 0) return true;
  if (!(await tableExists(sql, "orgmirrorconfig"))) return false;
  const orgMirror = await sql.query(`SELECT 1 FROM orgmirrorconfig WHERE internal_robot_id = $1`, [robotId]);
  return orgMirror.rows.length > 0;
}

/**
 * Deletes a robot and the rows that point at it (Quay's recursive delete_instance);
 * build references are cleared rather than deleted. Returns the repositories whose
 * grants changed.
 */
export async function deleteRobotAccount(sql: Queryable, robotId: number): Promise<string[]> {
  const changed = await deleteGrantsOf(sql, "user_id", robotId);
  for (const statement of [
    `DELETE FROM robotaccounttoken WHERE robot_account_id = $1`,
    `DELETE FROM robotaccountmetadata WHERE robot_account_id = $1`,
    `DELETE FROM federatedlogin WHERE user_id = $1`,
    `DELETE FROM teammember WHERE user_id = $1`,
    `DELETE FROM teammemberinvite WHERE user_id = $1`,
    `DELETE FROM permissionprototype WHERE delegate_user_id = $1 OR activating_user_id = $1`,
    `DELETE FROM star WHERE user_id = $1`,
    `DELETE FROM notification WHERE target_id = $1`,
    `UPDATE repositorybuildtrigger SET pull_robot_id = NULL WHERE pull_robot_id = $1`,
    `UPDATE repositorybuild SET pull_robot_id = NULL WHERE pull_robot_id = $1`,
    `DELETE FROM "user" WHERE id = $1 AND robot = true`,
  ]) {
    await sql.query(statement, [robotId]);
  }
  return changed;
}

export interface OAuthTokenRow {
  id: number;
  uuid: string;
  token_code: string;
  expires_at: Date;
  scope: string;
  user_id: number;
  username: string;
  user_uuid: string | null;
  user_enabled: boolean;
  user_organization: boolean;
  user_robot: boolean;
  client_id: string;
  application_name: string;
}

/** An OAuth access token by its 20-character public name (Quay's validate_access_token). */
export async function findOAuthAccessToken(sql: Queryable, tokenName: string): Promise<OAuthTokenRow | null> {
  const { rows } = await sql.query<OAuthTokenRow>(
    `SELECT t.id, t.uuid, t.token_code, t.expires_at, t.scope, u.id AS user_id, u.username, u.uuid AS user_uuid,
            u.enabled AS user_enabled, u.organization AS user_organization, u.robot AS user_robot,
            a.client_id, a.name AS application_name
     FROM oauthaccesstoken t JOIN "user" u ON u.id = t.authorized_user_id JOIN oauthapplication a ON a.id = t.application_id
     WHERE t.token_name = $1`,
    [tokenName],
  );
  return rows[0] ?? null;
}
